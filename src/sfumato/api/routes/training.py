"""Datasets (/datasets...), custom models (POST /models, /models/user/{userId}, DELETE /models/{id}) and elements
(/elements...), and the files behind their URLs. GET /models/{id} is in accounts.py (platform and custom)."""

from __future__ import annotations

import json
import math
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from fastapi.responses import FileResponse

from sfumato.api.deps import (
    BaseUrlDep,
    CdnDep,
    CreditsDep,
    DatasetsDep,
    PlatformElementsDep,
    PrincipalDep,
    TrainingsDep,
    UrlsDep,
)
from sfumato.api.openapi import ID_OF_ANOTHER_KIND, WRONG_KIND, semantic_refusals
from sfumato.api.routes.files import CACHE_FOREVER
from sfumato.api.routes.init_images import UPLOAD_PATH, refuse_multipart
from sfumato.api.routes.pricing import cost_fields
from sfumato.api.schemas.common import timestamp
from sfumato.api.schemas.media import UploadInitImage, UploadInitImageBody
from sfumato.api.schemas.training import (
    CreateDatasetBody,
    CreateDatasetResponse,
    CreateElementBody,
    CreateModelBody,
    CustomModelOut,
    CustomModelsResponse,
    DatasetImageOut,
    DatasetOut,
    DeleteDatasetResponse,
    DeletedNumber,
    DeleteElementResponse,
    DeleteModelResponse,
    GetDatasetResponse,
    InsertedId,
    ListElementsResponse,
    LoraOut,
    SdTrainingJob,
    TrainingJobResponse,
    UploadDatasetImageResponse,
    UploadFromGenBody,
    UploadFromGenResponse,
    UserElementOut,
    UserElementResponse,
    UserElementsResponse,
)
from sfumato.jobs.core.status import JobStatus, wire_status
from sfumato.services.accounts import Principal
from sfumato.services.cdn import CdnFile
from sfumato.services.errors import NotFound
from sfumato.services.training.elements_catalog import PlatformElement
from sfumato.services.training.trainings import TrainingView
from sfumato.store.training import DatasetImage

router = APIRouter()
files_router = APIRouter(include_in_schema=False)
ELEMENT_SAMPLES = "/elements-samples"  # not under /cdn: /cdn/{token}/{filename} is a generated image


def _own_user(user_id: str, who: Principal) -> None:
    if user_id not in (who.user_id, who.username):
        raise NotFound(f"user {user_id} not found; GET /me shows your user id")


# --- datasets ---


@router.post("/datasets", response_model=CreateDatasetResponse, operation_id="createDataset", tags=["Dataset"])
def create_dataset(
    datasets: DatasetsDep, who: PrincipalDep, body: Annotated[CreateDatasetBody | None, Body()] = None
) -> CreateDatasetResponse:
    body = body or CreateDatasetBody()
    body.log_unknown_keys("POST /datasets")
    dataset_id = datasets.create(who.user_id, body.name, body.description)
    return CreateDatasetResponse(insert_datasets_one=InsertedId(id=dataset_id))


@router.get(
    "/datasets/{id}",
    response_model=GetDatasetResponse,
    response_model_exclude_none=True,
    operation_id="getDatasetById",
    openapi_extra=ID_OF_ANOTHER_KIND,
    tags=["Dataset"],
)
def get_dataset(  # noqa: A002
    id: str, datasets: DatasetsDep, urls: UrlsDep, base: BaseUrlDep, who: PrincipalDep
) -> GetDatasetResponse:
    v = datasets.get(who.user_id, id)
    images = [
        DatasetImageOut(
            id=i.id,
            url=urls.dataset_image(base, i.id, i.token, i.extension, i.file_key),
            createdAt=timestamp(i.created_at),
        )
        for i in v.images
    ]
    out = DatasetOut(
        id=v.id,
        name=v.name,
        description=v.description,
        createdAt=timestamp(v.created_at),
        updatedAt=timestamp(v.updated_at),
        dataset_images=images,
    )
    return GetDatasetResponse(datasets_by_pk=out)


@router.delete(
    "/datasets/{id}",
    response_model=DeleteDatasetResponse,
    operation_id="deleteDatasetById",
    openapi_extra=ID_OF_ANOTHER_KIND,
    tags=["Dataset"],
)
def delete_dataset(id: str, datasets: DatasetsDep, who: PrincipalDep) -> DeleteDatasetResponse:  # noqa: A002
    datasets.delete(who.user_id, id)
    return DeleteDatasetResponse(delete_datasets_by_pk=InsertedId(id=id))


@router.post(
    "/datasets/{datasetId}/upload",
    response_model=UploadDatasetImageResponse,
    operation_id="uploadDatasetImage",
    openapi_extra=semantic_refusals(datasetId=WRONG_KIND),
    tags=["Dataset"],
    dependencies=[Depends(refuse_multipart)],
)
def upload_dataset_image(
    datasetId: str,  # noqa: N803 — Leonardo's path parameter name
    datasets: DatasetsDep,
    base: BaseUrlDep,
    who: PrincipalDep,
    body: Annotated[UploadInitImageBody | None, Body()] = None,
) -> UploadDatasetImageResponse:
    body = body or UploadInitImageBody()
    body.log_unknown_keys("POST /datasets/{datasetId}/upload")
    r = datasets.reserve_upload(who.user_id, datasetId, body.extension)
    out = UploadInitImage(id=r.id, url=r.url or base + UPLOAD_PATH, fields=json.dumps(r.fields), key=r.key)
    return UploadDatasetImageResponse(uploadDatasetImage=out)


@router.post(
    "/datasets/{datasetId}/upload/gen",
    response_model=UploadFromGenResponse,
    operation_id="uploadDatasetImageFromGen",
    openapi_extra=semantic_refusals(datasetId=WRONG_KIND),
    tags=["Dataset"],
)
def upload_dataset_image_from_gen(
    datasetId: str,  # noqa: N803
    datasets: DatasetsDep,
    who: PrincipalDep,
    body: Annotated[UploadFromGenBody | None, Body()] = None,
) -> UploadFromGenResponse:
    body = body or UploadFromGenBody()
    body.log_unknown_keys("POST /datasets/{datasetId}/upload/gen")
    image_id = datasets.copy_generated(who.user_id, datasetId, body.generatedImageId)
    return UploadFromGenResponse(uploadDatasetImageFromGen=InsertedId(id=image_id))


@files_router.get("/cdn/datasets/{token}/{filename}")
def dataset_image_file(token: str, filename: str, cdn: CdnDep) -> FileResponse:
    found: CdnFile = cdn.init_image(token, filename, table=DatasetImage)
    return FileResponse(found.path, media_type=found.media_type, headers=CACHE_FOREVER)


# --- custom models ---


def _progress(v: TrainingView) -> dict[str, int | str | None]:
    running = v.status == JobStatus.PENDING and v.steps > 0
    return {
        "failureReason": v.failure_reason,
        "trainingStep": v.step if running else None,
        "trainingSteps": v.steps if running else None,
    }


def custom_model_out(v: TrainingView) -> CustomModelOut:
    return CustomModelOut(
        id=v.id,
        name=v.name,
        description=v.description,
        instancePrompt=v.instance_prompt,
        modelWidth=v.resolution,
        modelHeight=v.resolution,
        sdVersion=v.sd_version,
        status=wire_status(v.status),
        type=v.model_type or "GENERAL",
        createdAt=timestamp(v.created_at),
        updatedAt=timestamp(v.updated_at),
        **_progress(v),  # type: ignore[arg-type]
    )


@router.post("/models", response_model=TrainingJobResponse, operation_id="createModel", tags=["Models"])
def create_model(
    trainings: TrainingsDep,
    credits: CreditsDep,
    who: PrincipalDep,
    body: Annotated[CreateModelBody | None, Body()] = None,
) -> TrainingJobResponse:
    body = body or CreateModelBody()
    body.log_unknown_keys("POST /models")
    model_id = trainings.create_model(who.user_id, who.api_key_id, body.to_params())
    job = SdTrainingJob(customModelId=model_id, id=model_id, **cost_fields(credits, model_id))  # type: ignore[arg-type]
    return TrainingJobResponse(sdTrainingJob=job)


@router.get(
    "/models/user/{userId}",
    response_model=CustomModelsResponse,
    response_model_exclude_none=True,
    operation_id="getCustomModelsByUserId",
    tags=["Models"],
)
def list_custom_models(userId: str, trainings: TrainingsDep, who: PrincipalDep) -> CustomModelsResponse:  # noqa: N803
    _own_user(userId, who)
    return CustomModelsResponse(custom_models=[custom_model_out(v) for v in trainings.list_models(who.user_id)])


@router.delete("/models/{id}", response_model=DeleteModelResponse, operation_id="deleteModelById", tags=["Models"])
def delete_custom_model(id: str, trainings: TrainingsDep, who: PrincipalDep) -> DeleteModelResponse:  # noqa: A002
    trainings.delete_model(who.user_id, id)
    return DeleteModelResponse(delete_custom_models_by_pk=InsertedId(id=id))


# --- elements ---


def whole_weight(value: float) -> int | None:
    """The SDKs type element weights as integers: send a weight only when it is one."""
    return int(value) if float(value).is_integer() else None


def lora_out(e: PlatformElement, base: str) -> LoraOut:
    return LoraOut(
        akUUID=e.ak_uuid,
        name=e.name,
        description=e.description,
        baseModel=e.base_model,
        creatorName="Sfumato",
        urlImage=f"{base}{ELEMENT_SAMPLES}/{e.ak_uuid}.png" if e.sample else None,
        weightDefault=whole_weight(e.weight_default),
        weightMin=whole_weight(e.weight_min),
        weightMax=whole_weight(e.weight_max),
    )


@router.get(
    "/elements",
    response_model=ListElementsResponse,
    response_model_exclude_none=True,
    operation_id="listElements",
    tags=["Elements"],
)
def list_elements(platform: PlatformElementsDep, base: BaseUrlDep, _: PrincipalDep) -> ListElementsResponse:
    return ListElementsResponse(loras=[lora_out(e, base) for e in platform.all()])


@files_router.get(ELEMENT_SAMPLES + "/{filename}")
def element_sample(filename: str, platform: PlatformElementsDep) -> FileResponse:
    element = platform.get(filename.removesuffix(".png")) if filename.endswith(".png") else None
    if element is None or element.sample is None:
        raise NotFound("no such element sample")
    return FileResponse(element.sample, media_type="image/png", headers=CACHE_FOREVER)


def user_element_out(v: TrainingView) -> UserElementOut:
    assert v.number is not None
    return UserElementOut(
        id=v.number,
        name=v.name,
        description=v.description,
        instancePrompt=v.instance_prompt or None,
        focus=v.focus or "General",
        baseModel=v.sd_version,
        learningRate=v.learning_rate or 0.0,
        trainingEpoch=v.num_train_epochs or 0,
        resolution=v.resolution,
        trainTextEncoder=v.train_text_encoder,
        status=wire_status(v.status),
        createdAt=timestamp(v.created_at),
        updatedAt=timestamp(v.updated_at),
        **_progress(v),  # type: ignore[arg-type]
    )


@router.post("/elements", response_model=TrainingJobResponse, operation_id="createElement", tags=["Elements"])
def create_element(
    trainings: TrainingsDep,
    credits: CreditsDep,
    who: PrincipalDep,
    body: Annotated[CreateElementBody | None, Body()] = None,
) -> TrainingJobResponse:
    body = body or CreateElementBody()
    body.log_unknown_keys("POST /elements")
    number = trainings.create_element(who.user_id, who.api_key_id, body.to_params())
    charged = cost_fields(credits, trainings.get_element(who.user_id, number).id)  # the training's charge
    return TrainingJobResponse(sdTrainingJob=SdTrainingJob(userLoraId=number, id=number, **charged))  # type: ignore[arg-type]


@router.get(
    "/elements/user/{userId}",
    response_model=UserElementsResponse,
    response_model_exclude_none=True,
    operation_id="getCustomElementsByUserId",
    tags=["Elements"],
)
def list_user_elements(userId: str, trainings: TrainingsDep, who: PrincipalDep) -> UserElementsResponse:  # noqa: N803
    _own_user(userId, who)
    return UserElementsResponse(user_loras=[user_element_out(v) for v in trainings.list_elements(who.user_id)])


def _element_number(value: str) -> int:
    """An element id from the path ("12", or "12.0" as some clients format it); anything else is not found, with
    the same answer as a number nobody has."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not number.is_integer():
        raise NotFound(f"element {value} not found")
    return int(number)


@router.get(
    "/elements/{id}",
    response_model=UserElementResponse,
    response_model_exclude_none=True,
    operation_id="getElementById",
    tags=["Elements"],
)
def get_element(id: str, trainings: TrainingsDep, who: PrincipalDep) -> UserElementResponse:  # noqa: A002
    return UserElementResponse(
        user_loras_by_pk=user_element_out(trainings.get_element(who.user_id, _element_number(id)))
    )


@router.delete(
    "/elements/{id}", response_model=DeleteElementResponse, operation_id="deleteElementById", tags=["Elements"]
)
def delete_element(id: str, trainings: TrainingsDep, who: PrincipalDep) -> DeleteElementResponse:  # noqa: A002
    number = _element_number(id)
    trainings.delete_element(who.user_id, number)
    return DeleteElementResponse(delete_user_loras_by_pk=DeletedNumber(id=number))
