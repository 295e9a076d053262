"""Canvas-editor requests on POST /generations (`canvasRequest: true`): which init image and mask they use,
and what each canvasRequestType does on this server (docs/control.md):

- INPAINT: repaint where the mask is white; every other pixel comes back as in the canvas image.
- OUTPAINT: fill the canvas image's transparent pixels (alpha < 128) and the mask's white area, if one is sent.
- SKETCH2IMG: image-to-image from the sketch (layout and colours follow it), at init_strength (default 0.3).
- IMG2IMG: image-to-image from the canvas image, at init_strength (default 0.5).
For SKETCH2IMG and IMG2IMG a mask, when sent, limits the change to its white area.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.services.errors import InvalidRequest
from sfumato.services.image_inputs import ImageKind, resolve_image
from sfumato.store.files import FileStore

CANVAS_TYPES = ("INPAINT", "OUTPAINT", "SKETCH2IMG", "IMG2IMG")
# What is kept of the canvas image (Leonardo's init_strength) when none is sent: inpainting and outpainting
# repaint their area from scratch; a sketch is only a layout, a picture more.
DEFAULT_KEEP: dict[str, float | None] = {"INPAINT": None, "OUTPAINT": None, "SKETCH2IMG": 0.3, "IMG2IMG": 0.5}


@dataclass(frozen=True)
class CanvasParams:
    request: bool | None = None
    type: str | None = None
    init_id: str | None = None
    mask_id: str | None = None

    @property
    def any_sent(self) -> bool:
        return any(v is not None for v in (self.type, self.init_id, self.mask_id))


@dataclass(frozen=True)
class CanvasRecord:
    type: str
    init_id: str
    init_key: str
    mask_id: str | None
    mask_key: str | None

    def to_record(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "init_id": self.init_id,
            "init_key": self.init_key,
            "mask_id": self.mask_id,
            "mask_key": self.mask_key,
        }


def _has_transparency(files: FileStore, key: str) -> bool:
    try:
        image = Image.open(io.BytesIO(files.get(key)))
        image.load()
    except (FileNotFoundError, OSError):
        return False
    if "A" not in image.getbands() and "transparency" not in image.info:
        return False
    return bool(image.convert("RGBA").getchannel("A").point(lambda a: 255 if a < 128 else 0).getbbox())


def check_canvas(s: Session, files: FileStore, user_id: str, c: CanvasParams) -> CanvasRecord | None:
    """The checked canvas request, None when none was asked for (a 400 naming the field otherwise)."""
    if not c.request:
        if c.any_sent:
            field = "canvasRequestType" if c.type is not None else "canvasInitId" if c.init_id else "canvasMaskId"
            raise InvalidRequest(
                f"{field} only acts on a canvas request: send canvasRequest: true with canvasRequestType "
                f"({', '.join(CANVAS_TYPES)}) and canvasInitId (from POST /canvas-init-image)",
                field=field,
            )
        return None
    if c.type not in CANVAS_TYPES:
        raise InvalidRequest(
            f"canvasRequestType must be one of {', '.join(CANVAS_TYPES)} on a canvas request, got {c.type!r}",
            field="canvasRequestType",
        )
    # the mask first: a request naming someone else's mask is a 404 whatever else it lacks
    mask = resolve_image(s, user_id, c.mask_id, "canvasMaskId", accept=("init_image",)) if c.mask_id else None
    if not c.init_id:
        raise InvalidRequest(
            "canvasInitId is missing: send the initImageId that POST /canvas-init-image returned, once its "
            "file is uploaded",
            field="canvasInitId",
        )
    accept: tuple[ImageKind, ...] = ("init_image", "generated_image", "variation")
    init = resolve_image(s, user_id, c.init_id, "canvasInitId", accept=accept)
    if mask is not None and mask.id == init.id:
        raise InvalidRequest(
            "canvasMaskId is the same image as canvasInitId; send the maskImageId of POST /canvas-init-image "
            "(white where the picture is to be repainted, black where it is kept)",
            field="canvasMaskId",
        )
    if c.type == "INPAINT" and mask is None:
        raise InvalidRequest(
            "canvasMaskId is missing: INPAINT repaints the white area of a mask; upload one with POST "
            "/canvas-init-image (maskImageId)",
            field="canvasMaskId",
        )
    if c.type == "OUTPAINT" and mask is None and not _has_transparency(files, init.file_key):
        raise InvalidRequest(
            "OUTPAINT fills the canvas image's transparent pixels or a mask's white area, and canvasInitId has "
            "no transparent pixel: upload a PNG with a transparent border, or send canvasMaskId",
            field="canvasMaskId",
        )
    return CanvasRecord(c.type, init.id, init.file_key, mask.id if mask else None, mask.file_key if mask else None)
