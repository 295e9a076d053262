"""Prices: POST /pricing-calculator's services, each with its parameters checked (a 400 that names the field),
and the prices of jobs the calculator has no service for (variations, video upscales, prompt tools).

Jobs are priced by the very same function: services/credits/quotes.py turns a job into the calculator's service
and parameters, so what the calculator answers for those parameters is what the job is charged."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from sfumato.services.credits.table import PriceTable
from sfumato.services.errors import InvalidRequest

SERVICES = (
    "IMAGE_GENERATION",
    "FANTASY_AVATAR_GENERATION",
    "MOTION_SVD_GENERATION",
    "MOTION_VIDEO_GENERATION",
    "VEO3_MOTION_VIDEO_GENERATION",
    "LCM_GENERATION",
    "MODEL_TRAINING",
    "TEXTURE_GENERATION",
    "UNIVERSAL_UPSCALER",
    "UNIVERSAL_UPSCALER_ULTRA",
)
# What this server serves (wider than the calculator's documented 32-1024: a request that runs is priced).
IMAGE_SIDE = (32, 1536)
LCM_SIDE = (64, 1024)
MAX_IMAGES = 8
STEPS = (10, 60)
MAX_MEGAPIXELS = 20
IMAGE_FLAGS = {  # IMAGE_GENERATION's booleans -> their factor in [image_generation.factors]
    "alchemyMode": "alchemy",
    "highResolution": "high_resolution",
    "isModelCustom": "custom_model",
    "isSDXL": "sdxl",
    "isSDXLLightning": "sdxl_lightning",
    "isPhoenix": "phoenix",
    "isFluxDev": "flux_dev",
    "isFluxSchnell": "flux_schnell",
    "isFluxKontext": "flux_kontext",
    "isUltra": "ultra",
    "photoRealMode": "photo_real",
    "promptMagic": "prompt_magic",
}
PARAMS = {
    "IMAGE_GENERATION": {
        *IMAGE_FLAGS, "imageWidth", "imageHeight", "numImages", "inferenceSteps", "controlnetsCost", "loraCount",
        "photoRealStrength", "photoRealVersion", "promptMagicStrength", "promptMagicVersion",
    },
    "FANTASY_AVATAR_GENERATION": {"imageWidth", "imageHeight", "numImages"},
    "MOTION_SVD_GENERATION": set(),
    "MOTION_VIDEO_GENERATION": {"resolution"},
    "VEO3_MOTION_VIDEO_GENERATION": {"resolution"},
    "LCM_GENERATION": {"width", "height", "instantRefine", "refine"},
    "MODEL_TRAINING": {"resolution", "sd_version", "datasetImageCount"},
    "TEXTURE_GENERATION": {"preview"},
    "UNIVERSAL_UPSCALER": {"megapixel"},
    "UNIVERSAL_UPSCALER_ULTRA": {"inputWidth", "inputHeight", "upscaleMultiplier"},
}  # fmt: skip


class _Params:
    """One service's parameters, read with checks whose errors name `serviceParams.SERVICE.key`."""

    def __init__(self, service: str, values: dict[str, Any]) -> None:
        self.service = service
        self.values = values

    def path(self, key: str) -> str:
        return f"serviceParams.{self.service}.{key}"

    def fail(self, key: str, what: str) -> InvalidRequest:
        return InvalidRequest(f"{self.path(key)} {what}", field=self.path(key))

    def integer(self, key: str, low: int, high: int, default: int | None = None, hint: str = "") -> int:
        value = self.values.get(key)
        if value is None:
            if default is None:
                raise self.fail(key, f"is required: send an integer from {low} to {high}{hint}")
            return default
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value != int(value)
        ):
            raise self.fail(key, f"must be an integer from {low} to {high}{hint}, got {value!r}")
        if not low <= value <= high:
            raise self.fail(key, f"must be from {low} to {high}{hint}, got {value!r}")
        return int(value)

    def side(self, key: str, low: int, high: int, default: int) -> int:
        value = self.integer(key, low, high, default, ", a multiple of 8")
        if value % 8:
            raise self.fail(key, f"must be a multiple of 8 from {low} to {high}, got {value}")
        return value

    def flag(self, key: str) -> bool:
        value = self.values.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return bool(value)

    def number(self, key: str, low: float, high: float, default: float | None = None) -> float | None:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:  # NaN too
            raise self.fail(key, f"must be a number from {low:g} to {high:g}, got {value!r}")
        return float(value)

    def choice(self, key: str, allowed: list[str], default: str | None = None) -> str:
        value = self.values.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or value.strip().upper() not in allowed:
            what = "is required" if value is None else f"is {value!r}"
            raise self.fail(key, f"{what}; send one of {', '.join(allowed)}")
        return value.strip().upper()


def _whole(value: Fraction, minimum: Fraction) -> int:
    """A job's price: rounded up to a whole credit, never below the table's minimum."""
    return max(math.ceil(minimum), math.ceil(value))


def calculate(table: PriceTable, service: str | None, service_params: Any) -> int:
    """POST /pricing-calculator: the price of `service` with its parameters (serviceParams[service])."""
    if service is None:
        raise InvalidRequest(f"service is required; send one of {', '.join(SERVICES)}", field="service")
    if not isinstance(service, str) or service.strip().upper() not in SERVICES:
        raise InvalidRequest(f"service {service!r} is unknown; send one of {', '.join(SERVICES)}", field="service")
    service = service.strip().upper()
    if service_params is None:
        service_params = {}
    if not isinstance(service_params, dict):
        raise InvalidRequest(
            f'serviceParams must be an object keyed by the service name, e.g. {{"{service}": {{...}}}}',
            field="serviceParams",
        )
    params = service_params.get(service)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidRequest(f"serviceParams.{service} must be an object of its parameters",
                             field=f"serviceParams.{service}")  # fmt: skip
    return price(table, service, params)


def price(table: PriceTable, service: str, values: dict[str, Any]) -> int:
    """The price of one job of `service` with `values` (the calculator's wire names), checked."""
    unknown = sorted(set(values) - PARAMS[service])
    if unknown:
        allowed = ", ".join(sorted(PARAMS[service])) or "none"
        raise InvalidRequest(
            f"serviceParams.{service}.{unknown[0]} is not a parameter of {service}; its parameters are {allowed}",
            field=f"serviceParams.{service}.{unknown[0]}",
        )
    p = _Params(service, values)
    value = _PRICERS[service](table, p)
    return _whole(value, table.price("minimum"))


def _pixels(p: _Params, low: int, high: int, width: str, height: str, default: int) -> int:
    return p.side(width, low, high, default) * p.side(height, low, high, default)


def _images(p: _Params, width: int, height: int) -> int:
    n = p.integer("numImages", 1, MAX_IMAGES, 1)
    if n > 4 and (width > 768 or height > 768):
        raise p.fail("numImages", f"is at most 4 when a side is above 768 (got {n} at {width}x{height})")
    return n


def _image_generation(t: PriceTable, p: _Params) -> Fraction:
    width = p.side("imageWidth", *IMAGE_SIDE, 512)
    height = p.side("imageHeight", *IMAGE_SIDE, 512)
    n = _images(p, width, height)
    steps = p.integer("inferenceSteps", *STEPS, int(t.price("image_generation.reference_steps")))
    p.integer("controlnetsCost", 0, 10_000, 0)
    p.number("photoRealStrength", 0.0, 1.0)
    p.number("promptMagicStrength", 0.1, 1.0)
    for key in ("photoRealVersion", "promptMagicVersion"):
        if p.values.get(key) is not None and not isinstance(p.values[key], str):
            raise p.fail(key, f"must be a version text such as 'v2', got {p.values[key]!r}")
    factor = Fraction(1)
    for flag, name in IMAGE_FLAGS.items():
        if p.flag(flag):
            factor *= t.price(f"image_generation.factors.{name}")
    g = "image_generation."
    each = (
        t.price(g + "per_image")
        * Fraction(width * height) / t.price(g + "reference_pixels")
        * Fraction(steps) / t.price(g + "reference_steps")
        * factor
        + t.price(g + "per_element") * p.integer("loraCount", 0, 20, 0)
    )  # fmt: skip
    return n * each + p.integer("controlnetsCost", 0, 10_000, 0)


def _fantasy_avatar(t: PriceTable, p: _Params) -> Fraction:
    width = p.side("imageWidth", *IMAGE_SIDE, 512)
    height = p.side("imageHeight", *IMAGE_SIDE, 512)
    n = _images(p, width, height)
    f = "fantasy_avatar."
    return n * t.price(f + "per_image") * Fraction(width * height) / t.price(f + "reference_pixels")


def _lcm(t: PriceTable, p: _Params) -> Fraction:
    pixels = _pixels(p, *LCM_SIDE, "width", "height", 512)
    value = t.price("lcm.per_image") * Fraction(pixels) / t.price("lcm.reference_pixels")
    if p.flag("instantRefine"):
        value += t.price("lcm.instant_refine")
    if p.flag("refine"):
        value += t.price("lcm.refine")
    return value


def _motion_video(t: PriceTable, p: _Params) -> Fraction:
    resolution = p.choice("resolution", t.keys("motion_video"), t.text("motion_video.default"))
    return t.price(f"motion_video.{resolution}")


def _veo3(t: PriceTable, p: _Params) -> Fraction:
    keys = t.keys("veo3_motion_video")
    return t.price(f"veo3_motion_video.{p.choice('resolution', keys, keys[0])}")


def _training(t: PriceTable, p: _Params) -> Fraction:
    resolutions = t.keys("model_training.resolution")
    value = p.values.get("resolution")
    if value is None or isinstance(value, bool) or str(value) not in resolutions:
        what = "is required" if value is None else f"is {value!r}"
        raise p.fail("resolution", f"{what}; send one of {', '.join(resolutions)}")
    price = t.price(f"model_training.resolution.{value}")
    version = p.values.get("sd_version")
    if version is not None and version != "FLUX_DEV":
        raise p.fail("sd_version", f"is {version!r}; send FLUX_DEV or leave it out")
    if version == "FLUX_DEV":
        price += t.price("model_training.per_dataset_image") * p.integer("datasetImageCount", 1, 50, 1)
    elif p.values.get("datasetImageCount") is not None:
        raise p.fail(
            "datasetImageCount", "applies to FLUX_DEV trainings only; send sd_version FLUX_DEV or leave it out"
        )
    return price


def _texture(t: PriceTable, p: _Params) -> Fraction:
    return t.price("texture.preview" if p.flag("preview") else "texture.full")


def _universal(t: PriceTable, p: _Params) -> Fraction:
    return t.price("universal_upscaler.per_megapixel") * p.integer("megapixel", 1, MAX_MEGAPIXELS)


def _universal_ultra(t: PriceTable, p: _Params) -> Fraction:
    width = p.integer("inputWidth", 1, 16384)
    height = p.integer("inputHeight", 1, 16384)
    m = p.number("upscaleMultiplier", 1.0, 2.0)
    if m is None:
        raise p.fail("upscaleMultiplier", "is required: send a number from 1.0 to 2.0")
    multiplier = Fraction(str(m))
    megapixels = math.ceil(width * height * multiplier * multiplier / 1_000_000)
    return t.price("universal_upscaler_ultra.per_megapixel") * max(1, megapixels)


_PRICERS = {
    "IMAGE_GENERATION": _image_generation,
    "FANTASY_AVATAR_GENERATION": _fantasy_avatar,
    "MOTION_SVD_GENERATION": lambda t, p: t.price("motion_svd.per_video"),
    "MOTION_VIDEO_GENERATION": _motion_video,
    "VEO3_MOTION_VIDEO_GENERATION": _veo3,
    "LCM_GENERATION": _lcm,
    "MODEL_TRAINING": _training,
    "TEXTURE_GENERATION": _texture,
    "UNIVERSAL_UPSCALER": _universal,
    "UNIVERSAL_UPSCALER_ULTRA": _universal_ultra,
}


def flat_price(table: PriceTable, key: str) -> int:
    """A job the calculator has no service for (a variation, a video upscale, a prompt tool): its table price."""
    return _whole(table.price(key), table.price("minimum"))
