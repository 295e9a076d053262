"""Platform elements: LoRAs every user may apply (GET /elements), from the bundled manifest
(models/elements/elements.json) and an operator's catalog folder (CATALOG_DIR/elements/elements.json, beside
the model entries), same format:
a list of {akUUID, name, description, baseModel, base_model_id, weightMin, weightMax, weightDefault, file,
sample, instance_token}, paths relative to the manifest."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sfumato.services.catalog import REPO_ROOT

log = logging.getLogger(__name__)

BUNDLED_ELEMENTS = REPO_ROOT / "models" / "elements" / "elements.json"


@dataclass(frozen=True)
class PlatformElement:
    ak_uuid: str
    name: str
    description: str
    base_model: str  # Leonardo's SdVersions value of the base (v1_5 for the Starter)
    base_model_id: str  # the model it was trained on: a generation must use that model
    weight_min: float
    weight_max: float
    weight_default: float
    path: Path  # the LoRA file (diffusers format)
    sample: Path | None  # a generation with the element at its default weight
    instance_token: str | None = None  # a trigger the prompt must contain, if the element was trained with one


def _read(manifest: Path) -> list[PlatformElement]:
    try:
        raw = json.loads(manifest.read_text())
    except OSError:
        return []
    except ValueError as exc:
        log.error("%s is not valid JSON (%s): its elements are not served", manifest, exc)
        return []
    out = []
    for item in raw:
        path = (manifest.parent / item["file"]).resolve()
        if not path.is_file():
            log.warning("element %s: %s is missing, not served", item.get("name"), path)
            continue
        sample = (manifest.parent / item["sample"]).resolve() if item.get("sample") else None
        out.append(
            PlatformElement(
                ak_uuid=str(item["akUUID"]),
                name=str(item.get("name", "")),
                description=str(item.get("description", "")),
                base_model=str(item.get("baseModel", "v1_5")),
                base_model_id=str(item["base_model_id"]),
                weight_min=float(item.get("weightMin", 0)),
                weight_max=float(item.get("weightMax", 2)),
                weight_default=float(item.get("weightDefault", 1)),
                path=path,
                sample=sample if sample is not None and sample.is_file() else None,
                instance_token=item.get("instance_token"),
            )
        )
    return out


class PlatformElements:
    def __init__(self, catalog_dir: Path | None = None, bundled: Path = BUNDLED_ELEMENTS) -> None:
        self._manifests = [bundled] + ([catalog_dir / "elements" / "elements.json"] if catalog_dir else [])

    def all(self) -> list[PlatformElement]:
        merged: dict[str, PlatformElement] = {}
        for manifest in self._manifests:
            for element in _read(manifest):
                merged[element.ak_uuid] = element  # an operator's entry overrides a bundled one
        return list(merged.values())

    def get(self, ak_uuid: str) -> PlatformElement | None:
        return next((e for e in self.all() if e.ak_uuid == ak_uuid), None)
