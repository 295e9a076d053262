"""What each job costs: the job turned into the pricing calculator's service and parameters, priced by the same
function that answers POST /pricing-calculator (docs/credits.md has the table of these mappings)."""

from __future__ import annotations

import io
import math
from fractions import Fraction
from typing import Any

from PIL import Image

from sfumato.services.credits.calculator import flat_price, price
from sfumato.services.credits.table import PriceTable
from sfumato.store.files import FileStore
from sfumato.store.models import Generation

VEO3_MODELS = ("VEO3", "VEO3FAST")
MAX_UPSCALE_SIDE = 2048  # the universal upscaler's cap on the long side (engine/postprocess.py)


def generation_params(table: PriceTable, row: Generation, custom_model: bool) -> dict[str, Any]:
    """IMAGE_GENERATION parameters of an image generation (text-to-image, image-to-image, canvas, ControlNets)."""
    options = row.options or {}
    elements = [a for a in (row.adapters or []) if a.get("source") != "model"]  # a custom model's LoRA is the model
    controls = len(row.controls or [])
    params: dict[str, Any] = {
        "imageWidth": row.width,
        "imageHeight": row.height,
        "numImages": row.num_images,
        "inferenceSteps": row.num_inference_steps,
        "alchemyMode": bool(options.get("alchemy")),
        "highResolution": bool(options.get("high_resolution")),
        "photoRealMode": bool(options.get("photo_real")),
        "promptMagic": bool(options.get("prompt_magic")),
        "isUltra": bool(options.get("ultra")),
        "isModelCustom": custom_model,
        "isSDXL": (row.sd_version or "").upper().startswith("SDXL"),
        "loraCount": len(elements),
        "controlnetsCost": math.ceil(controls * table.price("image_generation.per_controlnet")),
    }
    return params


def generation_price(table: PriceTable, row: Generation, custom_model: bool) -> int:
    return price(table, "IMAGE_GENERATION", generation_params(table, row, custom_model))


def svd_price(table: PriceTable) -> int:
    return price(table, "MOTION_SVD_GENERATION", {})


def video_quote(table: PriceTable, requested_model: str | None, resolution: str | None) -> tuple[str, dict[str, Any]]:
    """Image- and text-to-video: VEO3_MOTION_VIDEO_GENERATION when the request names a VEO3 model, else
    MOTION_VIDEO_GENERATION, with the request's resolution (a resolution that service does not price: its default)."""
    service, section = ("MOTION_VIDEO_GENERATION", "motion_video")
    if (requested_model or "").upper() in VEO3_MODELS:
        service, section = ("VEO3_MOTION_VIDEO_GENERATION", "veo3_motion_video")
    return service, ({"resolution": resolution} if resolution in table.keys(section) else {})


def video_price(table: PriceTable, requested_model: str | None, resolution: str | None) -> int:
    return price(table, *video_quote(table, requested_model, resolution))


def video_upscale_price(table: PriceTable, resolution: str) -> int:
    return flat_price(table, f"video_upscale.{resolution}")


def variation_price(table: PriceTable, transform: str) -> int:
    """POST /variations/upscale, /unzoom, /nobg (`transform`: upscale, unzoom or nobg)."""
    return flat_price(table, f"variations.{transform}")


def universal_quote(width: int, height: int, multiplier: float, ultra: bool) -> tuple[str, dict[str, Any]]:
    """The universal upscaler of a `width` x `height` source: ULTRA by input size and multiplier; otherwise by
    the output's megapixels (the long side capped at 2048, as the job does), rounded up."""
    if ultra:
        return "UNIVERSAL_UPSCALER_ULTRA", {"inputWidth": width, "inputHeight": height, "upscaleMultiplier": multiplier}
    m = max(Fraction(1), min(Fraction(str(multiplier)), Fraction(MAX_UPSCALE_SIDE, max(width, height))))
    out = round(width * m) * round(height * m)
    return "UNIVERSAL_UPSCALER", {"megapixel": max(1, math.ceil(Fraction(out, 1_000_000)))}


def universal_price(table: PriceTable, width: int, height: int, multiplier: float, ultra: bool) -> int:
    return price(table, *universal_quote(width, height, multiplier, ultra))


def training_params(resolution: int, sd_version: str, dataset_images: int) -> dict[str, Any]:
    """MODEL_TRAINING: a custom model or an element; FLUX_DEV ones by their dataset's size (1-50)."""
    params: dict[str, Any] = {"resolution": resolution}
    if sd_version == "FLUX_DEV":
        params.update(sd_version="FLUX_DEV", datasetImageCount=min(50, max(1, dataset_images)))
    return params


def training_price(table: PriceTable, resolution: int, sd_version: str, dataset_images: int) -> int:
    return price(table, "MODEL_TRAINING", training_params(resolution, sd_version, dataset_images))


def lcm_params(width: int, height: int, mode: str) -> dict[str, Any]:
    """The realtime canvas (LCM_GENERATION): refine is instantRefine, the upscale is the alchemy refine."""
    return {"width": width, "height": height, "instantRefine": mode == "refine", "refine": mode == "upscale"}


def lcm_price(table: PriceTable, width: int, height: int, mode: str) -> int:
    return price(table, "LCM_GENERATION", lcm_params(width, height, mode))


def texture_price(table: PriceTable, preview: bool) -> int:
    """TEXTURE_GENERATION (for the texture service to charge with)."""
    return price(table, "TEXTURE_GENERATION", {"preview": bool(preview)})


def prompt_price(table: PriceTable, tool: str) -> int:
    """POST /prompt/random (`random`) and /prompt/improve (`improve`)."""
    return flat_price(table, f"prompt.{tool}")


def stored_image_size(files: FileStore, key: str) -> tuple[int, int]:
    """The size of a stored picture (its header is enough)."""
    with Image.open(io.BytesIO(files.get(key))) as image:
        return image.size
