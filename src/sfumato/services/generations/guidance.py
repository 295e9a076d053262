"""The image guidance of one generation request, checked together: controlnets[] (and the deprecated controlNet
keys), the canvas editor's request, the init image and image prompts, and the combinations that cannot work."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from sfumato.services.canvas import DEFAULT_KEEP, CanvasParams, CanvasRecord, check_canvas
from sfumato.services.control import ControlRecord, LegacyControl, check_controlnets, legacy_entries
from sfumato.services.errors import InvalidRequest
from sfumato.services.generations.types import GenerationParams, ImageInputs
from sfumato.store.files import FileStore


@dataclass(frozen=True)
class Guidance:
    inputs: ImageInputs
    controls: tuple[ControlRecord, ...] = ()
    canvas: CanvasRecord | None = None

    @property
    def structural(self) -> tuple[ControlRecord, ...]:
        return tuple(c for c in self.controls if not c.is_reference)


def upload_ids(p: GenerationParams) -> list[str]:
    """Every id the request may name an uploaded image by (object storage settles them before use)."""
    ids = [p.init_image_id, *(p.image_prompts or [])]
    if isinstance(p.controlnets, list):
        ids += [e.get("initImageId") for e in p.controlnets if isinstance(e, dict)]
    if p.canvas is not None:
        ids += [p.canvas.init_id, p.canvas.mask_id]
    return [i for i in ids if isinstance(i, str) and i]


def check_guidance(
    s: Session,
    files: FileStore,
    user_id: str,
    model_path: Path,
    p: GenerationParams,
    image_inputs: Callable[[Session, str, GenerationParams], ImageInputs],
) -> Guidance:
    """`image_inputs(s, user_id, p)`: the service's check of init image and image prompts."""
    legacy_keys = p.legacy_control or LegacyControl(None, None, None)
    legacy = legacy_entries(legacy_keys, p.init_image_id, p.init_generation_image_id)
    if legacy:
        if p.controlnets:
            raise InvalidRequest(
                "controlNet (deprecated) and controlnets[] both sent; send only controlnets[]", field="controlNet"
            )
        # the legacy form guides by the init image: it is the control picture, not an image-to-image start
        p = dataclasses.replace(p, init_image_id=None, init_generation_image_id=None)
    canvas_params = p.canvas or CanvasParams()
    canvas = check_canvas(s, files, user_id, canvas_params)
    if canvas is not None and (p.init_image_id or p.init_generation_image_id):
        field = "init_image_id" if p.init_image_id else "init_generation_image_id"
        raise InvalidRequest(
            f"{field} and a canvas request both name an init image; on a canvas request the picture is "
            "canvasInitId: leave init_image_id and init_generation_image_id out",
            field=field,
        )
    inputs = image_inputs(s, user_id, dataclasses.replace(p, init_strength=None) if canvas else p)
    controls = tuple(check_controlnets(s, user_id, model_path, legacy or p.controlnets))
    structural = [c for c in controls if not c.is_reference]
    # The engine repaints a mask without ControlNets: OUTPAINT always has one, SKETCH2IMG/IMG2IMG when a mask is sent.
    if structural and canvas is not None and (canvas.type in ("INPAINT", "OUTPAINT") or canvas.mask_key):
        masked = "" if canvas.type in ("INPAINT", "OUTPAINT") else " with a mask (canvasMaskId)"
        raise InvalidRequest(
            f"controlnets: {structural[0].kind} guidance cannot be combined with a canvas {canvas.type} request"
            f"{masked} on this server; send Style, Character or Content Reference, or leave "
            f"{'canvasMaskId' if masked else 'the canvas request'} out",
            field="controlnets",
        )
    if canvas is not None:
        keep = p.init_strength if p.init_strength is not None else DEFAULT_KEEP[canvas.type]
        if keep is not None and not 0.1 <= keep <= 0.9:
            raise InvalidRequest(
                f"init_strength must be between 0.1 and 0.9, got {keep:g}; send how much of the canvas image "
                "to keep (higher keeps more)",
                field="init_strength",
            )
        inputs = dataclasses.replace(
            inputs, init_file_key=canvas.init_key, init_strength=keep, init_strength_ignored=None
        )
    return Guidance(inputs, controls, canvas)
