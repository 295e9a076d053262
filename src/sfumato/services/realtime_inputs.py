"""The realtime canvas's inputs: data URLs in and out, and the checks on every numeric field. Each refusal is a
400 naming the field and what to send."""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

from PIL import Image

from sfumato.services.errors import InvalidRequest
from sfumato.services.imaging import MAX_UPLOAD_BYTES, ImageRejected, decode_image

MAX_SIDE = 2048  # a canvas picture; the model renders at its own size and the result is resized
MAX_PROMPT = 1500
MAX_SEED = 9_999_999_998
SIZE_RANGE = (64, 1024)  # Leonardo documents 512, 640 and 1024; any multiple of 8 in this range is served
STEPS_RANGE = (4, 16)
GUIDANCE_RANGE = (0.5, 20.0)
STRENGTH_RANGE = (0.1, 1.0)
REFINE_STRENGTH_RANGE = (0.5, 0.9)
# LcmGenerationStyle -> the preset style template of the same name (services/styles.py)
LCM_STYLES = (
    "ANIME", "CINEMATIC", "DIGITAL_ART", "DYNAMIC", "ENVIRONMENT", "FANTASY_ART", "ILLUSTRATION", "PHOTOGRAPHY",
    "RENDER_3D", "RAYTRACED", "SKETCH_BW", "SKETCH_COLOR", "VIBRANT", "NONE",
)  # fmt: skip
_DATA_URL = re.compile(r"^data:image/(png|jpeg|jpg|webp);base64,", re.IGNORECASE)
_EXAMPLE = "a data URL such as data:image/jpeg;base64,/9j/... (PNG, JPEG or WEBP)"


@dataclass(frozen=True)
class CanvasParams:
    """A realtime request in our names; None means "the default"."""

    image_data_url: str | None
    prompt: str | None
    mask_data_url: str | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    steps: int | None = None
    strength: float | None = None
    style: str | None = None
    request_timestamp: str | None = None
    refine_creative: bool | None = None
    refine_strength: float | None = None


def decode_data_url(value: str | None, field: str) -> Image.Image:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{field} is required; send {_EXAMPLE}", field=field)
    value = value.strip()
    match = _DATA_URL.match(value)
    if match is None:
        head = value[:30] + ("..." if len(value) > 30 else "")
        raise InvalidRequest(f"{field} must be {_EXAMPLE}; got {head!r}", field=field)
    payload = value[match.end() :]
    if len(payload) * 3 // 4 > MAX_UPLOAD_BYTES:
        raise InvalidRequest(
            f"{field} holds more than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB; send a smaller picture (the canvas "
            "is rendered at most 1024 pixels a side)",
            field=field,
        )
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not valid base64 after its 'base64,' prefix; send {_EXAMPLE}",
                             field=field) from None  # fmt: skip
    extension = match.group(1).lower()
    try:
        return decode_image(data, extension, max_side=MAX_SIDE, max_pixels=MAX_SIDE * MAX_SIDE).image
    except ImageRejected as exc:
        raise InvalidRequest(f"{field}: {exc.message}".replace("upload", "send"), field=field) from None


def encode_data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=92)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _in_range(field: str, value: float | None, bounds: tuple[float, float], default: float, what: str) -> float:
    if value is None:
        return default
    low, high = bounds
    if isinstance(value, bool) or not low <= value <= high:
        raise InvalidRequest(f"{field} is {value!r}; send {what} from {low:g} to {high:g}", field=field)
    return value


@dataclass(frozen=True)
class CheckedCanvas:
    prompt: str
    width: int
    height: int
    steps: int
    guidance: float
    strength: float
    seed: int
    style: str
    refine_strength: float
    refine_creative: bool


def check_params(p: CanvasParams, default_guidance: float, default_strength: float, seed: int) -> CheckedCanvas:
    prompt = (p.prompt or "").strip()
    if not prompt:
        message = 'expecting a value for non-nullable variable: "prompt"; send a text prompt'
        raise InvalidRequest(message, field="prompt")
    if len(prompt) > MAX_PROMPT:
        raise InvalidRequest("Invalid prompt, maximum length of 1500 characters exceeded.", field="prompt")
    sizes = {}
    for field, value in (("width", p.width), ("height", p.height)):
        size = 512 if value is None else value
        if isinstance(size, bool) or not SIZE_RANGE[0] <= size <= SIZE_RANGE[1] or size % 8:
            raise InvalidRequest(
                f"{field} is {size!r}; send 512, 640 or 1024 (any multiple of 8 from {SIZE_RANGE[0]} to "
                f"{SIZE_RANGE[1]} is served)",
                field=field,
            )
        sizes[field] = size
    style = (p.style or "DYNAMIC").strip().upper()
    if style not in LCM_STYLES:
        raise InvalidRequest(f"style {p.style!r} is unknown; send one of {', '.join(LCM_STYLES)}", field="style")
    return CheckedCanvas(
        prompt=prompt,
        width=sizes["width"],
        height=sizes["height"],
        steps=int(_in_range("steps", p.steps, STEPS_RANGE, 4, "an integer")),
        guidance=float(_in_range("guidance", p.guidance, GUIDANCE_RANGE, default_guidance, "a number")),
        strength=float(_in_range("strength", p.strength, STRENGTH_RANGE, default_strength, "a number")),
        seed=int(_in_range("seed", p.seed, (0, MAX_SEED), seed, "an integer")),
        style=style,
        refine_strength=float(_in_range("refineStrength", p.refine_strength, REFINE_STRENGTH_RANGE, 0.5, "a number")),
        refine_creative=bool(p.refine_creative),
    )
