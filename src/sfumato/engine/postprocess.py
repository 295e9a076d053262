"""Upscaling and background removal: the parts of the variations that are not diffusion.

Upscale: the operator's ESRGAN-family model when one is installed (addons/upscaler/, engine/addons.py), else
Lanczos; the engine then refines with the diffusion model and keeps only the refinement's fine detail
(`add_detail`), so the picture's colours and layout stay the original's.
A broken add-on fails the job with an AddonError naming it (engine/addons.py); it is never skipped quietly.

Background removal: an operator-installed salient-object model (addons/nobg/model.pt, TorchScript) when
present, else a border-colour key that is exact on the starter model's pictures (flat shapes on a solid
background): the background colour is the median of the border, and alpha ramps from 0 to 255 with the
colour distance from it, above the border's own noise.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from sfumato.engine.addons import esrgan_upscale, nobg_file, salient_alpha, upscaler_file

log = logging.getLogger(__name__)

MAX_UPSCALE_SIDE = 2048
METHOD_COLOUR_KEY = "border-colour-key"
METHOD_SALIENT = "salient-model"
METHOD_LANCZOS = "lanczos"
METHOD_ESRGAN = "esrgan"


def upscale_size(width: int, height: int, factor: float = 2.0) -> tuple[int, int]:
    """`factor` times larger, the long side capped at MAX_UPSCALE_SIDE (never smaller than the input)."""
    factor = max(1.0, min(factor, MAX_UPSCALE_SIDE / max(width, height)))
    return round(width * factor), round(height * factor)


def enlarge(
    image: Image.Image, size: tuple[int, int], addons: Path | None, device: str = "cpu"
) -> tuple[Image.Image, str]:
    """The picture at `size`, and how it was enlarged: through the installed ESRGAN-family model
    ("esrgan:<file stem>", its output resized to `size`), else "lanczos"."""
    model_file = upscaler_file(addons)
    if model_file is None:
        return image.convert("RGB").resize(size, Image.Resampling.LANCZOS), METHOD_LANCZOS
    big = esrgan_upscale(image, model_file, device)
    log.info("enlarged %sx%s -> %sx%s with %s", *image.size, *big.size, model_file.name)
    # The stem, shortened: the method column holds 64 characters, "+diffusion-detail" included.
    return big.resize(size, Image.Resampling.LANCZOS), f"{METHOD_ESRGAN}:{model_file.stem[:32]}"


def add_detail(
    base: Image.Image, refined: Image.Image, radius: float = 2.0, limit: float = 24.0, weight: float = 0.5
) -> Image.Image:
    """`base` plus the fine detail of `refined` (refined minus its blur, clipped to +-limit): low frequencies,
    hence colours and layout, stay the base's; the diffusion model only adds texture. `weight` (0..1) is how
    much of the refinement's detail is added (the universal upscaler's detailContrast)."""
    refined = refined.convert("RGB").resize(base.size, Image.Resampling.LANCZOS)
    a = np.asarray(refined, np.float32)
    detail = np.clip(a - np.asarray(refined.filter(ImageFilter.GaussianBlur(radius)), np.float32), -limit, limit)
    b = np.asarray(base.convert("RGB"), np.float32)
    smooth = np.asarray(base.convert("RGB").filter(ImageFilter.GaussianBlur(radius)), np.float32)
    # Half the base's own finest detail, half the refinement's (adding both in full would over-sharpen).
    out = smooth + (1.0 - weight) * (b - smooth) + weight * detail
    return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


def remove_background(image: Image.Image, addons: Path | None, device: str = "cpu") -> tuple[Image.Image, str]:
    """RGBA: the picture with a transparent background, and the method used."""
    rgb = image.convert("RGB")
    model_file = nobg_file(addons)
    if model_file is not None:
        return _with_alpha(rgb, salient_alpha(rgb, model_file, device)), METHOD_SALIENT
    return _with_alpha(rgb, border_colour_alpha(rgb)), METHOD_COLOUR_KEY


def _with_alpha(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    out = rgb.copy()
    out.putalpha(alpha)
    return out


def _border_background(border: np.ndarray, near: float = 48.0) -> tuple[np.ndarray, float]:
    """The background colour and its noise from the border's pixels. Where the subject touches the border,
    its pixels are outliers: the colour is the median of the pixels near the first median (twice), and the
    noise the 95th percentile of their distances, so a subject cut by the frame does not inflate it. A
    border with no dominant colour (under a quarter of it near the median) keeps every pixel."""
    background = np.median(border, axis=0)
    inliers = border
    for _ in range(2):
        near_ones = border[np.sqrt(((border - background) ** 2).sum(-1)) < near]
        if len(near_ones) < len(border) / 4:
            break
        inliers, background = near_ones, np.median(near_ones, axis=0)
    return background, float(np.percentile(np.sqrt(((inliers - background) ** 2).sum(-1)), 95))


def border_colour_alpha(rgb: Image.Image) -> Image.Image:
    arr = np.asarray(rgb, np.float32)
    h, w, _ = arr.shape
    ring = max(1, min(h, w) // 50)
    border = np.concatenate(
        [
            arr[:ring].reshape(-1, 3),
            arr[-ring:].reshape(-1, 3),
            arr[:, :ring].reshape(-1, 3),
            arr[:, -ring:].reshape(-1, 3),
        ]
    )
    background, noise = _border_background(border)
    distance = np.sqrt(((arr - background) ** 2).sum(-1))
    low = max(12.0, 1.5 * noise)  # below: background (its own noise included)
    high = low + max(24.0, low)  # above: subject; in between (anti-aliased edges): partial
    alpha = np.clip((distance - low) / (high - low), 0.0, 1.0)
    mask = Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L")
    return mask.filter(ImageFilter.MedianFilter(3))  # drops isolated speckles of noise
