"""Upscaling and background removal: the parts of the variations that are not diffusion.

Upscale: an ESRGAN-family model through spandrel when the operator installed both (addons/upscaler/), else
Lanczos; the engine then refines with the diffusion model and keeps only the refinement's fine detail
(`add_detail`), so the picture's colours and layout stay the original's.

Background removal: an operator-installed salient-object model (addons/nobg/model.pt, TorchScript) when
present, else a border-colour key that is exact on the starter model's pictures (flat shapes on a solid
background): the background colour is the median of the border, and alpha ramps from 0 to 255 with the
colour distance from it, above the border's own noise.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

log = logging.getLogger(__name__)

MAX_UPSCALE_SIDE = 2048
NOBG_MODEL = Path("nobg") / "model.pt"
UPSCALER_DIR = Path("upscaler")
METHOD_COLOUR_KEY = "border-colour-key"
METHOD_SALIENT = "salient-model"
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def upscale_size(width: int, height: int, factor: float = 2.0) -> tuple[int, int]:
    """`factor` times larger, the long side capped at MAX_UPSCALE_SIDE (never smaller than the input)."""
    factor = max(1.0, min(factor, MAX_UPSCALE_SIDE / max(width, height)))
    return round(width * factor), round(height * factor)


def enlarge(image: Image.Image, size: tuple[int, int], addons: Path | None) -> tuple[Image.Image, str]:
    """The picture at `size`: through an installed ESRGAN-family model if any, else Lanczos."""
    model_file = _first_weights(addons / UPSCALER_DIR) if addons else None
    if model_file is not None:
        try:
            return _spandrel_upscale(image, model_file).resize(size, Image.Resampling.LANCZOS), "esrgan"
        except Exception:  # an unusable add-on must not fail the job: fall back and say so in the log
            log.warning("upscaler model %s unusable; using Lanczos", model_file, exc_info=True)
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS), "lanczos"


def _first_weights(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.suffix in (".pth", ".safetensors", ".pt", ".ckpt"))
    return files[0] if files else None


def _spandrel_upscale(image: Image.Image, model_file: Path) -> Image.Image:
    import spandrel  # optional: the operator installs it with the model (docs/images.md)

    model = spandrel.ModelLoader().load_from_file(str(model_file)).eval()
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        out = model(pixels)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return Image.fromarray(np.round(out * 255).astype(np.uint8), "RGB")


def add_detail(base: Image.Image, refined: Image.Image, radius: float = 2.0, limit: float = 24.0) -> Image.Image:
    """`base` plus the fine detail of `refined` (refined minus its blur, clipped to +-limit): low frequencies,
    hence colours and layout, stay the base's; the diffusion model only adds texture."""
    refined = refined.convert("RGB").resize(base.size, Image.Resampling.LANCZOS)
    a = np.asarray(refined, np.float32)
    detail = np.clip(a - np.asarray(refined.filter(ImageFilter.GaussianBlur(radius)), np.float32), -limit, limit)
    b = np.asarray(base.convert("RGB"), np.float32)
    smooth = np.asarray(base.convert("RGB").filter(ImageFilter.GaussianBlur(radius)), np.float32)
    # Half the base's own finest detail, half the refinement's (adding both in full would over-sharpen).
    out = smooth + 0.5 * (b - smooth) + 0.5 * detail
    return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


def remove_background(image: Image.Image, addons: Path | None) -> tuple[Image.Image, str]:
    """RGBA: the picture with a transparent background, and the method used."""
    rgb = image.convert("RGB")
    model_file = addons / NOBG_MODEL if addons else None
    if model_file is not None and model_file.is_file():
        try:
            alpha = _salient_alpha(rgb, model_file)
            return _with_alpha(rgb, alpha), METHOD_SALIENT
        except Exception:
            log.warning("salient-object model %s unusable; using the border-colour key", model_file, exc_info=True)
    return _with_alpha(rgb, border_colour_alpha(rgb)), METHOD_COLOUR_KEY


def _with_alpha(rgb: Image.Image, alpha: Image.Image) -> Image.Image:
    out = rgb.copy()
    out.putalpha(alpha)
    return out


def border_colour_alpha(rgb: Image.Image) -> Image.Image:
    arr = np.asarray(rgb, np.float32)
    h, w, _ = arr.shape
    ring = max(1, min(h, w) // 50)
    border = np.concatenate([arr[:ring].reshape(-1, 3), arr[-ring:].reshape(-1, 3),
                             arr[:, :ring].reshape(-1, 3), arr[:, -ring:].reshape(-1, 3)])  # fmt: skip
    background = np.median(border, axis=0)
    distance = np.sqrt(((arr - background) ** 2).sum(-1))
    noise = float(np.percentile(np.sqrt(((border - background) ** 2).sum(-1)), 95))
    low = max(12.0, 1.5 * noise)  # below: background (its own noise included)
    high = low + max(24.0, low)  # above: subject; in between (anti-aliased edges): partial
    alpha = np.clip((distance - low) / (high - low), 0.0, 1.0)
    mask = Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L")
    return mask.filter(ImageFilter.MedianFilter(3))  # drops isolated speckles of noise


def _salient_alpha(rgb: Image.Image, model_file: Path) -> Image.Image:
    """A TorchScript salient-object model: (1,3,S,S) ImageNet-normalised RGB in, (1,1,S,S) mask out
    (probabilities or logits). `nobg/config.json` may set {"size": S, "mean": [...], "std": [...]}."""
    config_file = model_file.parent / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    size = int(config.get("size", 1024))
    mean = torch.tensor(config.get("mean", _IMAGENET_MEAN)).view(1, 3, 1, 1)
    std = torch.tensor(config.get("std", _IMAGENET_STD)).view(1, 3, 1, 1)
    model = torch.jit.load(str(model_file), map_location="cpu").eval()
    x = torch.from_numpy(np.asarray(rgb.resize((size, size), Image.Resampling.BILINEAR), np.float32) / 255.0)
    x = (x.permute(2, 0, 1)[None] - mean) / std
    with torch.inference_mode():
        out = model(x)
    out = out[0] if isinstance(out, (list, tuple)) else out
    mask = out.reshape(out.shape[-2], out.shape[-1]).float()
    if mask.min() < 0 or mask.max() > 1:
        mask = mask.sigmoid()
    img = Image.fromarray(np.round(mask.numpy() * 255).astype(np.uint8), "L")
    return img.resize(rgb.size, Image.Resampling.BILINEAR)
