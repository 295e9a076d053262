"""Custom models (POST /models) and user elements (POST /elements): validate, snapshot the dataset, record a
PENDING training and hand it to the dispatcher; read, list and delete. Both train a LoRA on a base model this
server has (jobs/handlers/training.py); the wire shows PENDING / COMPLETE / FAILED, the CLI the full state."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.jobs.core.events import delete_events
from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher
from sfumato.services.catalog import Catalog, ModelEntry
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import training_price
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.limits import check_queue_cap
from sfumato.services.training.datasets import Datasets, owned_dataset, uploaded_images
from sfumato.services.training.trigger import choose_token
from sfumato.services.training.views import TrainingView as TrainingView  # re-exported: its callers' name
from sfumato.services.training.views import training_view
from sfumato.store.database import Database
from sfumato.store.files import FileStore, training_prefix
from sfumato.store.training import ELEMENT_NUMBER_MAX, ElementNumber, Training

KIND = "training"
MIN_DATASET_IMAGES = 5
MAX_NAME = 200

MODEL_TYPES = (
    "GENERAL", "BUILDINGS", "CHARACTERS", "ENVIRONMENTS", "FASHION", "ILLUSTRATIONS", "GAME_ITEMS",
    "GRAPHICAL_ELEMENTS", "PHOTOGRAPHY", "PIXEL_ART", "PRODUCT_DESIGN", "TEXTURES", "UI_ELEMENTS", "VECTOR",
)  # fmt: skip
STRENGTHS = ("VERY_LOW", "LOW", "MEDIUM", "HIGH")
MODEL_SD_VERSIONS = ("v1_5", "v2")
ELEMENT_SD_VERSIONS = (
    "SDXL_0_9", "SDXL_1_0", "LEONARDO_DIFFUSION_XL", "LEONARDO_LIGHTNING_XL", "VISION_XL", "KINO_XL", "ALBEDO_XL",
    "FLUX_DEV", "v1_5", "v2",
)  # fmt: skip
FOCUSES = ("General", "Character", "Style", "Object")
MODEL_RESOLUTIONS = (512, 768)
ELEMENT_RESOLUTION = 1024
EPOCHS_RANGE = (1, 250)
LEARNING_RATE_RANGE = (1e-8, 1e-3)
DEFAULT_EPOCHS = 100
DEFAULT_LEARNING_RATE = 1e-6  # Leonardo's default for every focus on its default models
# Which family of base model a requested sd_version trains on, when the server has one (else the default model).
_FAMILY = {"v1_5": "v1_5", "v2": "v2", "FLUX_DEV": "FLUX"} | {v: "SDXL_1_0" for v in ELEMENT_SD_VERSIONS if "XL" in v}


@dataclass
class ModelTrainingParams:
    name: str | None = None
    dataset_id: str | None = None
    instance_prompt: str | None = None
    description: str | None = None
    model_type: str | None = None
    nsfw: bool | None = None
    resolution: int | None = None
    sd_version: str | None = None
    strength: str | None = None


@dataclass
class ElementTrainingParams:
    name: str | None = None
    dataset_id: str | None = None
    instance_prompt: str | None = None
    description: str | None = None
    focus: str | None = None
    train_text_encoder: bool | None = None
    resolution: int | None = None
    num_train_epochs: int | None = None
    learning_rate: float | None = None
    sd_version: str | None = None


def trainable(model_dir: Path) -> bool:
    """Whether the trainer (engine/lora_train.py) takes this folder: a Stable Diffusion 1.x/2.x pipeline."""
    try:
        index = json.loads((model_dir / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    return index.get("_class_name") == "StableDiffusionPipeline"


def _name(value: str | None, default: str | None = None) -> str:
    name = (value or "").strip() or (default or "")
    if not name:
        raise InvalidRequest('expecting a value for non-nullable variable: "name"; name the model', field="name")
    if len(name) > MAX_NAME:
        raise InvalidRequest(f"name is at most {MAX_NAME} characters, got {len(name)}", field="name")
    return name


def _one_of(field: str, value: str | None, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    by_case = {a.lower(): a for a in allowed}
    if str(value).strip().lower() not in by_case:
        raise InvalidRequest(f"{field} {value!r} is unknown; send one of {', '.join(allowed)}", field=field)
    return by_case[str(value).strip().lower()]


def _in_range(field: str, value: float, low: float, high: float, hint: str) -> None:
    if not low <= value <= high:
        raise InvalidRequest(f"{field} must be between {low:g} and {high:g}, got {value:g}; {hint}", field=field)


class Trainings:
    def __init__(
        self, db: Database, files: FileStore, catalog: Catalog, dispatcher: Dispatcher, datasets: Datasets
    ) -> None:
        self._db = db
        self._files = files
        self._catalog = catalog
        self._dispatcher = dispatcher
        self._datasets = datasets
        self.min_images = MIN_DATASET_IMAGES
        self.max_pending = 200
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE

    # --- creating ---
    def base_model(self, sd_version: str) -> ModelEntry:
        """The model a training for `sd_version` builds on: this server's first image model of that family
        (Starter-format or a diffusers Stable Diffusion folder), else the default model."""
        family = _FAMILY.get(sd_version, sd_version)
        for entry in self._catalog.image_models():
            if entry.sd_version == family and trainable(entry.path):
                return entry
        default = self._catalog.resolve_for_generation(None)
        if not trainable(default.path):
            raise InvalidRequest(
                f"this server trains on Stable Diffusion 1.x/2.x folders only, and its default model {default.name} "
                "is not one; the operator sets SFUMATO_DEFAULT_MODEL_ID to one (the Starter is)",
                field="sd_version",
            )
        return default

    def _snapshot(self, s: Session, user_id: str, dataset_id: str | None) -> list[str]:
        if not dataset_id:
            raise InvalidRequest(
                'expecting a value for "datasetId"; create a dataset with POST /datasets, upload its images, '
                "then pass insert_datasets_one.id",
                field="datasetId",
            )
        owned_dataset(s, user_id, dataset_id, field="datasetId")
        keys = [i.file_key for i in uploaded_images(s, dataset_id)]
        if len(keys) < self.min_images:
            raise InvalidRequest(
                f"dataset {dataset_id} has {len(keys)} uploaded images, training needs at least {self.min_images}; "
                "add images with POST /datasets/{datasetId}/upload (then upload the file) or "
                "POST /datasets/{datasetId}/upload/gen",
                field="datasetId",
            )
        return keys

    def _tokens_in_use(self, s: Session, user_id: str, base_model_id: str) -> list[str]:
        query = select(Training.instance_token).where(
            Training.user_id == user_id,
            Training.base_model_id == base_model_id,
            Training.status.in_([JobStatus.PENDING, JobStatus.COMPLETE]),
        )
        return [t for t in s.scalars(query).all() if t]

    def _create(
        self,
        user_id: str,
        api_key_id: str | None,
        p: ModelTrainingParams | ElementTrainingParams,
        instance: str,
        sd_version: str,
        fields: dict[str, Any],
    ) -> tuple[str, int | None]:
        """Snapshot the dataset, pick the trigger token, record the PENDING training (and an element's integer
        id) in one transaction, then hand it to the dispatcher. Returns (training id, element id or None)."""
        base = self.base_model(sd_version)
        self._datasets.settle(user_id, p.dataset_id or "")
        with self._db.session() as s:
            keys = self._snapshot(s, user_id, p.dataset_id)
            in_use = self._tokens_in_use(s, user_id, base.id)
            token = choose_token(base.path, instance, in_use, "instance_prompt") if instance else None
            row = Training(
                id=str(uuid.uuid4()),
                user_id=user_id,
                api_key_id=api_key_id,
                status=JobStatus.PENDING,
                description=p.description or "",
                dataset_id=p.dataset_id,
                image_keys=keys,
                instance_prompt=instance,
                instance_token=token,
                base_model_id=base.id,
                base_model_path=str(base.path),
                sd_version=sd_version,
                settings={},
                **fields,
            )
            check_queue_cap(s, user_id, self.max_pending)
            s.add(row)
            s.flush()
            amount = training_price(self.credits.table, row.resolution, sd_version, len(keys))
            self.credits.charge(s, user_id, KIND, row.id, amount)
            number = None
            if row.target == "element":
                element = ElementNumber(training_id=row.id, user_id=user_id)
                s.add(element)
                s.flush()
                number = element.id
        self._dispatcher.submit(KIND, row.id)
        return row.id, number

    def create_model(self, user_id: str, api_key_id: str | None, p: ModelTrainingParams) -> str:
        name = _name(p.name)
        instance = (p.instance_prompt or "").strip()
        if not instance:
            raise InvalidRequest(
                'expecting a value for non-nullable variable: "instance_prompt"; send the word that will stand for '
                "the dataset's subject in prompts (e.g. jackthedog)",
                field="instance_prompt",
            )
        sd_version = _one_of("sd_version", p.sd_version, MODEL_SD_VERSIONS, "v1_5")
        resolution = p.resolution if p.resolution is not None else 512
        if resolution not in MODEL_RESOLUTIONS:
            raise InvalidRequest(f"resolution must be 512 or 768, got {resolution}", field="resolution")
        fields = {
            "target": "model",
            "name": name,
            "model_type": _one_of("modelType", p.model_type, MODEL_TYPES, "GENERAL"),
            "strength": _one_of("strength", p.strength, STRENGTHS, "MEDIUM"),
            "nsfw": bool(p.nsfw),
            "resolution": resolution,
            "train_text_encoder": False,
        }
        return self._create(user_id, api_key_id, p, instance, sd_version, fields)[0]

    def create_element(self, user_id: str, api_key_id: str | None, p: ElementTrainingParams) -> int:
        name = _name(p.name, default="placeholder")
        focus = _one_of("lora_focus", p.focus, FOCUSES, "General")
        instance = (p.instance_prompt or "").strip()
        if not instance and focus != "Style":
            raise InvalidRequest(
                f'instance_prompt is required for lora_focus "{focus}": send the word that will stand for the '
                'subject in prompts (e.g. magicdonut), or use lora_focus "Style" for an element without one',
                field="instance_prompt",
            )
        sd_version = _one_of("sd_version", p.sd_version, ELEMENT_SD_VERSIONS, "FLUX_DEV")
        resolution = p.resolution if p.resolution is not None else ELEMENT_RESOLUTION
        if resolution != ELEMENT_RESOLUTION:
            raise InvalidRequest(f"resolution must be 1024 for elements, got {resolution}", field="resolution")
        epochs = p.num_train_epochs if p.num_train_epochs is not None else DEFAULT_EPOCHS
        _in_range("num_train_epochs", epochs, *EPOCHS_RANGE, "send an integer from 1 to 250 (default 100)")
        rate = p.learning_rate if p.learning_rate is not None else DEFAULT_LEARNING_RATE
        _in_range("learning_rate", rate, *LEARNING_RATE_RANGE, "send a number like 1e-6 (the default)")
        fields = {
            "target": "element",
            "name": name,
            "nsfw": False,
            "resolution": resolution,
            "focus": focus,
            "train_text_encoder": True if p.train_text_encoder is None else bool(p.train_text_encoder),
            "num_train_epochs": int(epochs),
            "learning_rate": float(rate),
        }
        number = self._create(user_id, api_key_id, p, instance, sd_version, fields)[1]
        assert number is not None
        return number

    # --- reading ---
    def _model_row(self, s: Session, user_id: str, model_id: str) -> Training | None:
        row = s.get(Training, model_id)
        return row if row is not None and row.user_id == user_id and row.target == "model" else None

    def custom_model(self, user_id: str, model_id: str) -> TrainingView | None:
        """The user's custom model with this id, if it is one (else None: maybe a platform model)."""
        with self._db.session() as s:
            row = self._model_row(s, user_id, model_id)
            return training_view(row) if row is not None else None

    def get_model(self, user_id: str, model_id: str) -> TrainingView:
        view = self.custom_model(user_id, model_id)
        if view is None:
            raise NotFound(f"model {model_id} not found")
        return view

    def list_models(self, user_id: str) -> list[TrainingView]:
        with self._db.session() as s:
            rows = s.scalars(
                select(Training)
                .where(Training.user_id == user_id, Training.target == "model")
                .order_by(Training.created_at.desc(), Training.id)
            ).all()
            return [training_view(r) for r in rows]

    def owned(self, user_id: str, training_id: str) -> TrainingView:
        """One of the user's trainings (a custom model or an element) by its training id; another user's is
        the same NotFound as a missing one."""
        with self._db.session() as s:
            row = s.get(Training, training_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"training {training_id} not found")
            number = None
            if row.target == "element":
                number = s.scalar(select(ElementNumber.id).where(ElementNumber.training_id == row.id))
            return training_view(row, number)

    def _element(self, s: Session, user_id: str, number: int) -> tuple[ElementNumber, Training] | None:
        if not 1 <= number <= ELEMENT_NUMBER_MAX:  # names no element, and the driver would overflow on it
            return None
        found = s.get(ElementNumber, number)
        if found is None or found.user_id != user_id:
            return None
        row = s.get(Training, found.training_id)
        return (found, row) if row is not None else None

    def get_element(self, user_id: str, number: int) -> TrainingView:
        with self._db.session() as s:
            found = self._element(s, user_id, number)
            if found is None:
                raise NotFound(f"element {number} not found")
            return training_view(found[1], found[0].id)

    def list_elements(self, user_id: str) -> list[TrainingView]:
        with self._db.session() as s:
            pairs = s.execute(
                select(ElementNumber, Training)
                .join(Training, Training.id == ElementNumber.training_id)
                .where(ElementNumber.user_id == user_id)
                .order_by(ElementNumber.id.desc())
            ).all()
            return [training_view(row, number.id) for number, row in pairs]

    def user_elements(self, s: Session, user_id: str, numbers: list[int]) -> dict[int, TrainingView]:
        """The user's elements among `numbers` (others' and unknown ones are left out)."""
        out = {}
        for number in numbers:
            found = self._element(s, user_id, number)
            if found is not None:
                out[number] = training_view(found[1], number)
        return out

    # --- deleting ---
    def _delete(self, s: Session, row: Training) -> None:
        """A PENDING training is cancelled: its job stops at its next step (the row is gone, so the runner
        discards what it wrote); the LoRA file and checkpoints go with the prefix."""
        delete_events(s, [row.id])
        Credits.forget_jobs(s, [row.id])  # its charge stays, no longer naming it
        s.delete(row)

    def delete_model(self, user_id: str, model_id: str) -> None:
        with self._db.session() as s:
            row = self._model_row(s, user_id, model_id)
            if row is None:
                raise NotFound(f"model {model_id} not found")
            self._delete(s, row)
        self._files.delete_prefix(training_prefix(user_id, model_id))

    def delete_element(self, user_id: str, number: int) -> None:
        with self._db.session() as s:
            found = self._element(s, user_id, number)
            if found is None:
                raise NotFound(f"element {number} not found")
            training_id = found[1].id
            s.delete(found[0])
            self._delete(s, found[1])
        self._files.delete_prefix(training_prefix(user_id, training_id))
