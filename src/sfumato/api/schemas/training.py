"""Wire shapes of datasets, custom models and elements (leonardo-api.md 3.2.3, 3.2.4, 3.2.8)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sfumato.api.openapi import NOT_BLANK, WRONG_KIND
from sfumato.api.schemas.accounts import ModelOut
from sfumato.api.schemas.common import Cost, TolerantBody, WireModel
from sfumato.api.schemas.media import UploadInitImage
from sfumato.services.training.trainings import (
    ELEMENT_RESOLUTION,
    ELEMENT_SD_VERSIONS,
    EPOCHS_RANGE,
    FOCUSES,
    LEARNING_RATE_RANGE,
    MAX_NAME,
    MIN_DATASET_IMAGES,
    MODEL_RESOLUTIONS,
    MODEL_SD_VERSIONS,
    MODEL_TYPES,
    STRENGTHS,
    ElementTrainingParams,
    ModelTrainingParams,
)

# --- datasets ---

_NAME = {"pattern": NOT_BLANK, "maxLength": MAX_NAME}  # trimmed, not blank
_DATASET = (
    f"a dataset with fewer than {MIN_DATASET_IMAGES} uploaded images gets a 400 (upload more first); " + WRONG_KIND
)


class CreateDatasetBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("name",)
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"name": _NAME}
    name: str | None = None
    description: str | None = None


class InsertedId(WireModel):
    id: str


class CreateDatasetResponse(WireModel):
    insert_datasets_one: InsertedId


class DatasetImageOut(WireModel):
    id: str
    url: str
    createdAt: str


class DatasetOut(WireModel):
    id: str
    name: str
    description: str | None = None
    createdAt: str
    updatedAt: str
    dataset_images: list[DatasetImageOut] = []


class GetDatasetResponse(WireModel):
    datasets_by_pk: DatasetOut | None


class DeleteDatasetResponse(WireModel):
    delete_datasets_by_pk: InsertedId


class UploadDatasetImageResponse(WireModel):
    uploadDatasetImage: UploadInitImage


class UploadFromGenBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("generatedImageId",)
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"generatedImageId": WRONG_KIND}
    generatedImageId: str | None = Field(default=None, description="a generated image id (generated_images[].id)")


class UploadFromGenResponse(WireModel):
    uploadDatasetImageFromGen: InsertedId


# --- custom models ---


class CreateModelBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("name", "datasetId", "instance_prompt")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str | int, ...]]] = {
        "modelType": MODEL_TYPES,
        "strength": STRENGTHS,
        "sd_version": MODEL_SD_VERSIONS,
        "sd_Version": MODEL_SD_VERSIONS,
        "resolution": MODEL_RESOLUTIONS,
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"name": _NAME, "instance_prompt": {"pattern": NOT_BLANK}}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"datasetId": _DATASET}
    name: str | None = None
    datasetId: str | None = None
    instance_prompt: str | None = None
    description: str | None = None
    modelType: str | None = None
    nsfw: bool | None = None
    resolution: int | None = Field(default=None, description="512 or 768 (default 512)")
    sd_version: str | None = Field(default=None, description="v1_5 or v2; also read as sd_Version")
    sd_Version: str | None = Field(default=None, description="the misspelling public scripts send: sd_version")
    strength: str | None = None

    def to_params(self) -> ModelTrainingParams:
        return ModelTrainingParams(
            name=self.name,
            dataset_id=self.datasetId,
            instance_prompt=self.instance_prompt,
            description=self.description,
            model_type=self.modelType,
            nsfw=self.nsfw,
            resolution=self.resolution,
            sd_version=self.sd_version if self.sd_version is not None else self.sd_Version,
            strength=self.strength,
        )


class SdTrainingJob(WireModel):
    customModelId: str | None = None
    userLoraId: int | None = None
    # Not in the SDKs' types (they ignore it): the same id, which some clients read as sdTrainingJob.id.
    id: str | int | None = None
    apiCreditCost: int  # what the job was charged, from the price table (services/credits/)
    cost: Cost


class TrainingJobResponse(WireModel):
    sdTrainingJob: SdTrainingJob


class CustomModelOut(ModelOut):
    public: bool = False


class CustomModelResponse(WireModel):
    custom_models_by_pk: CustomModelOut | None


class CustomModelsResponse(WireModel):
    custom_models: list[CustomModelOut]


class DeleteModelResponse(WireModel):
    delete_custom_models_by_pk: InsertedId


# --- elements ---


class CreateElementBody(TolerantBody):
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("datasetId", "lora_focus", "num_train_epochs", "learning_rate")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str | int, ...]]] = {
        "lora_focus": FOCUSES,
        "sd_version": ELEMENT_SD_VERSIONS,
        "sd_Version": ELEMENT_SD_VERSIONS,
        "resolution": (ELEMENT_RESOLUTION,),
    }
    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "num_train_epochs": EPOCHS_RANGE,
        "learning_rate": LEARNING_RATE_RANGE,
    }
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"name": {"maxLength": MAX_NAME}}
    # instance_prompt: required unless lora_focus is Style (an element without a subject word).
    WIRE_RULES: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"properties": {"lora_focus": {"const": "Style"}}},
            {
                "required": ["instance_prompt"],
                "properties": {"instance_prompt": {"type": "string", "pattern": NOT_BLANK}},
            },
        ]
    }
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {"datasetId": _DATASET}
    name: str | None = None
    description: str | None = None
    datasetId: str | None = None
    instance_prompt: str | None = None
    lora_focus: str | None = None
    train_text_encoder: bool | None = None
    resolution: int | None = Field(default=None, description="1024 (the default)")
    num_train_epochs: int | None = Field(default=None, description="1 to 250 (default 100)")
    learning_rate: float | None = Field(default=None, description="1e-8 to 1e-3 (default 1e-6)")
    sd_version: str | None = None
    sd_Version: str | None = Field(default=None, description="the misspelling public scripts send: sd_version")

    def to_params(self) -> ElementTrainingParams:
        return ElementTrainingParams(
            name=self.name,
            dataset_id=self.datasetId,
            instance_prompt=self.instance_prompt,
            description=self.description,
            focus=self.lora_focus,
            train_text_encoder=self.train_text_encoder,
            resolution=self.resolution,
            num_train_epochs=self.num_train_epochs,
            learning_rate=self.learning_rate,
            sd_version=self.sd_version if self.sd_version is not None else self.sd_Version,
        )


class UserElementOut(WireModel):
    id: int
    name: str
    description: str
    instancePrompt: str | None = None
    focus: str
    baseModel: str
    learningRate: float
    trainingEpoch: int
    resolution: int
    trainTextEncoder: bool
    status: str
    createdAt: str
    updatedAt: str
    failureReason: str | None = None
    trainingStep: int | None = None
    trainingSteps: int | None = None


class UserElementResponse(WireModel):
    user_loras_by_pk: UserElementOut | None


class UserElementsResponse(WireModel):
    user_loras: list[UserElementOut]


class DeletedNumber(WireModel):
    id: int


class DeleteElementResponse(WireModel):
    delete_user_loras_by_pk: DeletedNumber


class LoraOut(WireModel):
    akUUID: str | None = None
    name: str | None = None
    description: str | None = None
    baseModel: str
    creatorName: str | None = None
    urlImage: str | None = None
    weightDefault: int | None = None
    weightMin: int | None = None
    weightMax: int | None = None


class ListElementsResponse(WireModel):
    loras: list[LoraOut]


class GenerationElementOut(WireModel):
    id: int
    lora: LoraOut
    weightApplied: float
