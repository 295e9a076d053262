"""The model catalog: platform models (built-in entries, an operator's catalog folder, and models
registered with `sfumato models add`), each with a UUID users put in `modelId`."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from sfumato.engine.video import VIDEO_PIPELINES, follows_prompt_direction
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.store.database import Database
from sfumato.store.models import RegisteredModel

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
BUILTIN_CATALOG = Path(__file__).resolve().parents[1] / "catalog" / "platform.json"

# Model ids that Leonardo's SDKs, docs and popular scripts send (the SDK default first). Each maps to the
# server's default model unless a catalog entry claims it in its `aliases`.
WELL_KNOWN_LEONARDO_IDS = (
    "b24e16ff-06e3-43eb-8d33-4416c2d75876",  # Leonardo Lightning XL (SDK default)
    "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3",  # Phoenix 1.0
    "6b645e3a-d64f-4341-a6d8-7a3690fbf042",  # Phoenix 0.9
    "b2614463-296c-462a-9586-aafdb8f00e36",  # Flux Dev
    "1dd50843-d653-4516-a8e3-f0238ee453ff",  # Flux Schnell
    "7b592283-e8a7-4c5a-9ba6-d18c31f258b9",  # Lucid Origin
    "05ce0082-2d80-4a2d-8653-4d1c85e2418e",  # Lucid Realism
    "aa77f04e-3eec-4034-9c07-d0f619684628",  # Kino XL
    "5c232a9e-9061-4777-980a-ddc8e65647c6",  # Vision XL
    "1e60896f-3c26-4296-8ecc-53e2afecc132",  # Diffusion XL
    "e71a1c2f-4f80-4800-934f-2c68979d8cc8",  # Anime XL
    "2067ae52-33fd-4a82-bb92-c2c55e7d2786",  # AlbedoBase XL
    "16e7060a-803e-4df3-97ee-edcfa5dc9cc8",  # SDXL 1.0
    "6bef9f1b-29cb-40c7-b9df-32b51c1f67d3",  # Leonardo Creative
)

SAMPLE_FILE = "sample.png"  # a model folder's own sample image, when its entry names none
SAMPLE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}

SD_VERSIONS = (
    "v1_5",
    "v2",
    "v3",
    "SDXL_0_8",
    "SDXL_0_9",
    "SDXL_1_0",
    "SDXL_LIGHTNING",
    "PHOENIX",
    "FLUX",
    "FLUX_DEV",
    "KINO_2_0",
)

_PIPELINE_SD_VERSION = {
    "StableDiffusionPipeline": "v1_5",
    "StableDiffusionXLPipeline": "SDXL_1_0",
    "StableDiffusion3Pipeline": "v3",
    "FluxPipeline": "FLUX",
}
# The Leonardo scheduler name reported for a model's own scheduler when a request names none.
_SCHEDULER_LEONARDO_NAME = {
    "LMSDiscreteScheduler": "KLMS",
    "EulerAncestralDiscreteScheduler": "EULER_ANCESTRAL_DISCRETE",
    "EulerDiscreteScheduler": "EULER_DISCRETE",
    "DDIMScheduler": "DDIM",
    "DPMSolverMultistepScheduler": "DPM_SOLVER",
    "PNDMScheduler": "PNDM",
}


@dataclass(frozen=True)
class ModelEntry:
    id: str
    name: str
    description: str
    path: Path
    sd_version: str = "v1_5"
    default_width: int = 1024
    default_height: int = 768
    # The model's own scheduler as a Leonardo name: what a request without `scheduler` runs.
    default_scheduler: str = "LEONARDO"
    recommended_steps: int | None = None
    recommended_guidance: float | None = None
    # Whether `presetStyle` templates are added to prompts (the starter model knows only its own words).
    prompt_styles: bool = True
    featured: bool = False
    native_size: tuple[int, int] | None = None
    aliases: tuple[str, ...] = ()
    kind: str = "image"  # image | motion (an image-to-video folder, e.g. SVD)
    # A motion model that takes a direction from a prompt (image- and text-to-video); a stock SVD folder cannot.
    follows_prompts: bool = False
    # A picture the model made (View More on the web app's model card): the entry's `sample`, else the
    # folder's sample.png (scripts/make_model_sample.py writes one); None: the card says how to add one.
    sample: Path | None = None


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def describe_folder(path: Path) -> dict:
    """What a diffusers folder says about itself (pipeline class, scheduler, sfumato_model.json)."""
    index = _read_json(path / "model_index.json")
    meta = _read_json(path / "sfumato_model.json")
    scheduler_class = _read_json(path / "scheduler" / "scheduler_config.json").get("_class_name", "")
    is_motion = index.get("_class_name") in VIDEO_PIPELINES
    info: dict = {
        "sd_version": _PIPELINE_SD_VERSION.get(index.get("_class_name", ""), "v1_5"),
        "default_scheduler": _SCHEDULER_LEONARDO_NAME.get(scheduler_class, "LEONARDO"),
        "kind": "motion" if is_motion else "image",
        "follows_prompts": is_motion and follows_prompt_direction(path),
    }
    for key in ("name", "description", "sd_version", "recommended_steps", "recommended_guidance"):
        if meta.get(key) is not None:
            info[key] = meta[key]
    if meta.get("native_width") and meta.get("native_height"):
        info["native_size"] = (int(meta["native_width"]), int(meta["native_height"]))
    return info


def entry_from_dict(raw: dict, base_dir: Path) -> ModelEntry:
    path = Path(raw["path"])
    if not path.is_absolute():
        path = (base_dir / path).resolve()
    info = describe_folder(path)
    fields = {"description": "", **info, **{k: v for k, v in raw.items() if k != "path"}}
    fields["aliases"] = tuple(fields.get("aliases", ()))
    if "native_size" in fields and fields["native_size"] is not None:
        fields["native_size"] = tuple(fields["native_size"])
    sample = Path(raw["sample"]) if raw.get("sample") else path / SAMPLE_FILE
    if not sample.is_absolute():
        sample = (base_dir / sample).resolve()
    fields["sample"] = sample if sample.suffix.lower() in SAMPLE_TYPES and sample.is_file() else None
    if raw.get("sample") and fields["sample"] is None:
        log.warning("model %s: sample %s is not a PNG, JPEG or WebP file; its card shows none", raw["id"], sample)
    known = ModelEntry.__dataclass_fields__
    return ModelEntry(path=path, **{k: v for k, v in fields.items() if k in known and k != "path"})


class Catalog:
    def __init__(
        self,
        db: Database,
        default_model_id: str,
        catalog_dir: Path | None = None,
        default_motion_model_id: str | None = None,
    ) -> None:
        self._db = db
        self.default_model_id = default_model_id
        self.default_motion_model_id = default_motion_model_id
        self._catalog_dir = catalog_dir

    def _file_entries(self) -> list[ModelEntry]:
        entries = [
            entry_from_dict(raw, REPO_ROOT)
            for raw in json.loads(BUILTIN_CATALOG.read_text())
            # A bundled model whose weights are not in this checkout (yet) is left out, not listed broken.
            if not raw.get("builtin_optional") or (REPO_ROOT / raw["path"] / "model_index.json").is_file()
        ]
        if self._catalog_dir and self._catalog_dir.is_dir():
            for file in sorted(self._catalog_dir.glob("*.json")):
                raw = json.loads(file.read_text())
                for item in raw if isinstance(raw, list) else [raw]:
                    entries.append(entry_from_dict(item, file.parent))
        return entries

    def _registered_entries(self) -> list[ModelEntry]:
        with self._db.session() as s:
            rows = s.scalars(select(RegisteredModel).order_by(RegisteredModel.created_at)).all()
        return [
            entry_from_dict({"id": r.id, "name": r.name, "description": r.description, "path": r.path}, REPO_ROOT)
            for r in rows
        ]

    def entries(self) -> list[ModelEntry]:
        """Every platform model; a later source overrides an earlier one with the same id."""
        merged: dict[str, ModelEntry] = {}
        for entry in self._file_entries() + self._registered_entries():
            merged[entry.id] = entry
        return list(merged.values())

    def get(self, model_id: str) -> ModelEntry:
        """The model behind an id, following aliases; NotFound when the server has no such model."""
        entries = self.entries()
        by_id = {e.id: e for e in entries}
        if model_id in by_id:
            return by_id[model_id]
        for entry in entries:
            if model_id in entry.aliases:
                return entry
        if model_id in WELL_KNOWN_LEONARDO_IDS and self.default_model_id in by_id:
            return by_id[self.default_model_id]
        raise NotFound(f"model {model_id} not found")

    def image_models(self) -> list[ModelEntry]:
        return [e for e in self.entries() if e.kind == "image"]

    def motion_model(self) -> ModelEntry:
        """The model motion jobs run on: SFUMATO_DEFAULT_MOTION_MODEL_ID, else the first motion model."""
        motion = [e for e in self.entries() if e.kind == "motion"]
        chosen = next((e for e in motion if e.id == self.default_motion_model_id), motion[0] if motion else None)
        if chosen is None:
            raise InvalidRequest(
                "Service Error: this server has no motion model installed; the operator adds an image-to-video "
                "folder (Stable Video Diffusion format) with `sfumato models add FOLDER --name NAME`",
                field="imageId",
            )
        return chosen

    def resolve_for_generation(self, model_id: str | None) -> ModelEntry:
        if model_id is None:
            model_id = self.default_model_id
        try:
            entry = self.get(model_id)
        except NotFound:
            available = ", ".join(f"{e.id} ({e.name})" for e in self.image_models())
            raise InvalidRequest(
                f"modelId {model_id} is not a model on this server; send one of: {available} "
                "(GET /platformModels lists them), or leave modelId out for the default",
                field="modelId",
            ) from None
        if entry.kind != "image":
            raise InvalidRequest(
                f"modelId {model_id} is a motion model: make a video from an image with POST /generations-motion-svd "
                "(imageId: a generated image id); GET /platformModels lists the image models",
                field="modelId",
            )
        return entry

    def add(self, folder: Path, name: str, model_id: str | None = None, description: str = "") -> ModelEntry:
        folder = folder.resolve()
        if not (folder / "model_index.json").is_file():
            raise InvalidRequest(f"{folder} is not a diffusers model folder (it has no model_index.json)")
        model_id = model_id or str(uuid.uuid4())
        try:
            uuid.UUID(model_id)
        except ValueError:
            raise InvalidRequest(f"--id must be a UUID, got {model_id!r}") from None
        with self._db.session() as s:
            row = s.get(RegisteredModel, model_id) or RegisteredModel(id=model_id)
            row.name, row.description, row.path = name, description, str(folder)
            s.add(row)
        return self.get(model_id)
