"""Image inputs for the cached pipelines: image-to-image and inpainting pipelines derived from the cached
text-to-image one (`from_pipe` shares every module, so no second copy of the weights is loaded), and image
prompts, by IP-Adapter when the operator installed one for the model, else by a method that needs no weights.

The weight-free method ("latent-adain+colour-match"): the prompt images are encoded by the model's own VAE;
during the first part of denoising each step's latents are pulled toward the per-channel mean and standard
deviation of those latents (AdaIN in latent space, which carries colour and tone, not layout), fading out as
the steps go on; then the decoded image's per-channel RGB mean and spread are moved toward the prompt images'
by `weight`. It transfers palette and overall tone, not objects: documented as such in docs/images.md.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, DiffusionPipeline
from PIL import Image

from sfumato.engine.load_lock import LOAD_LOCK
from sfumato.engine.types import AddonError

log = logging.getLogger(__name__)

IP_ADAPTER_DIR = "ip_adapter"  # <model folder>/ip_adapter/{*.safetensors|*.bin, image_encoder/}
METHOD_IP_ADAPTER = "ip-adapter"
METHOD_ADAIN = "latent-adain+colour-match"

# Derived pipelines per cached pipeline; entries vanish with the cached pipeline when the LRU evicts it.
_derived: weakref.WeakKeyDictionary[DiffusionPipeline, dict[str, DiffusionPipeline]] = weakref.WeakKeyDictionary()


def derived_pipe(pipe: DiffusionPipeline, kind: str) -> DiffusionPipeline:
    """The image-to-image ("img2img") or inpainting ("inpaint") pipeline sharing `pipe`'s modules."""
    table = _derived.setdefault(pipe, {})
    if kind not in table:
        factory = AutoPipelineForImage2Image if kind == "img2img" else AutoPipelineForInpainting
        derived = factory.from_pipe(pipe)
        derived.set_progress_bar_config(disable=True)
        table[kind] = derived
    return table[kind]


def ip_adapter_weights(model_path: Path) -> Path | None:
    """The model's IP-Adapter weights file, None when it has no ip_adapter/ folder; AddonError when the folder
    is there but incomplete (the operator meant to install one: say what is missing rather than ignore it)."""
    folder = model_path / IP_ADAPTER_DIR
    if not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".safetensors", ".bin"))
    if not files:
        raise AddonError(
            f"{folder.name}/ of model {model_path.name} holds no IP-Adapter weights; put the adapter "
            "file (e.g. ip-adapter_sd15.safetensors) in it, or remove the folder"
        )
    encoder = folder / "image_encoder"
    if not (encoder / "config.json").is_file():
        raise AddonError(
            f"{folder.name}/ of model {model_path.name} has no image_encoder/ (a transformers "
            "CLIPVisionModelWithProjection folder with config.json and its weights) for "
            f"{files[0].name}"
        )
    return files[0]


@contextlib.contextmanager
def ip_adapter(pipe: DiffusionPipeline, weights: Path, scale: float) -> Iterator[None]:
    """IP-Adapter loaded for one call and unloaded after it, so the cached pipeline stays text-only."""
    had_extractor = getattr(pipe, "feature_extractor", None) is not None
    try:
        with LOAD_LOCK:  # a load: never beside a training step (engine/load_lock.py)
            pipe.load_ip_adapter(
                str(weights.parent),
                subfolder="",
                weight_name=weights.name,
                image_encoder_folder="image_encoder",
                local_files_only=True,
            )
        pipe.set_ip_adapter_scale(scale)
    except Exception as exc:
        _unload(pipe, had_extractor)  # a half-loaded adapter must not stay on the shared, cached pipeline
        where = f"{weights.parent.name}/{weights.name} of model {weights.parent.parent.name}"
        raise AddonError(f"the IP-Adapter {where} could not be loaded: {type(exc).__name__}: {exc}") from exc
    try:
        yield
    finally:
        _unload(pipe, had_extractor)


def _unload(pipe: DiffusionPipeline, had_extractor: bool) -> None:
    """unload_ip_adapter, plus what it leaves behind: the image encoder after a failed load, and the CLIP
    feature extractor it created (SD pipelines keep it for their safety checker), sized for this encoder."""
    try:
        pipe.unload_ip_adapter()
    except Exception:  # nothing (or only part) was loaded; unload did what it could
        log.debug("unload_ip_adapter after a failed load", exc_info=True)
    if getattr(pipe, "image_encoder", None) is not None:
        pipe.register_modules(image_encoder=None)
    if not had_extractor and getattr(pipe, "feature_extractor", None) is not None:
        pipe.register_modules(feature_extractor=None)


def to_tensor(images: list[Image.Image], width: int, height: int) -> torch.Tensor:
    """RGB images -> (N, 3, H, W) in [-1, 1], the VAE's input range."""
    arrays = [
        np.asarray(i.convert("RGB").resize((width, height), Image.Resampling.BICUBIC), np.float32) for i in images
    ]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 127.5 - 1.0


def reference_latent_stats(
    pipe: DiffusionPipeline, images: tuple[Image.Image, ...], width: int, height: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (1, C, 1, 1) of the prompt images' latents, averaged over the images."""
    vae = pipe.vae
    pixels = to_tensor(list(images), width, height).to(vae.device, vae.dtype)
    with torch.inference_mode():
        latents = vae.encode(pixels).latent_dist.mean * getattr(vae.config, "scaling_factor", 1.0)
    mean = latents.mean(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True)
    std = latents.std(dim=(2, 3), keepdim=True).mean(dim=0, keepdim=True)
    return mean.float(), std.float()


def adain_step_callback(
    stats: tuple[torch.Tensor, torch.Tensor], weight: float, then: Callable[..., dict] | None
) -> Callable[..., dict]:
    """A callback_on_step_end that pulls latents toward the reference statistics, strongest at the start."""
    ref_mean, ref_std = stats

    def on_step_end(pipe: DiffusionPipeline, step: int, timestep: Any, tensors: dict[str, Any]) -> dict:
        total = max(1, int(getattr(pipe, "num_timesteps", 0) or step + 1))
        pull = weight * max(0.0, 1.0 - (step + 1) / (0.8 * total))  # fades to 0 by 80% of the steps
        latents = tensors.get("latents")
        if pull > 0 and latents is not None:
            mean = latents.mean(dim=(2, 3), keepdim=True)
            std = latents.std(dim=(2, 3), keepdim=True).clamp_min(1e-5)
            target = (latents - mean) / std * ref_std.to(latents) + ref_mean.to(latents)
            tensors = {**tensors, "latents": latents + pull * (target - latents)}
        return then(pipe, step, timestep, tensors) if then else tensors

    return on_step_end


def colour_match(image: Image.Image, references: tuple[Image.Image, ...], weight: float) -> Image.Image:
    """Move the image's per-channel RGB mean and spread toward the references' by `weight` (0..1)."""
    weight = min(max(weight, 0.0), 1.0)
    if weight == 0 or not references:
        return image
    src = np.asarray(image.convert("RGB"), np.float32)
    refs = [np.asarray(r.convert("RGB"), np.float32).reshape(-1, 3) for r in references]
    ref_mean = np.mean([r.mean(0) for r in refs], axis=0)
    ref_std = np.mean([r.std(0) for r in refs], axis=0)
    mean, std = src.reshape(-1, 3).mean(0), src.reshape(-1, 3).std(0) + 1e-3
    matched = (src - mean) / std * ref_std + ref_mean
    out = src + weight * (matched - src)
    return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


def unzoom_canvas(
    image: Image.Image, scale: float = 2 / 3
) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int]]:
    """The picture shrunk by `scale` in the middle of a canvas of its own size, the border pre-filled with a
    blurred stretch of the picture (a better start for the inpainting than grey), and the mask of the border.
    Returns (canvas, mask, inner box)."""
    from PIL import ImageFilter

    width, height = image.size
    inner_w, inner_h = max(8, round(width * scale)), max(8, round(height * scale))
    left, top = (width - inner_w) // 2, (height - inner_h) // 2
    box = (left, top, left + inner_w, top + inner_h)
    canvas = image.convert("RGB").filter(ImageFilter.GaussianBlur(max(2, width // 12)))
    canvas.paste(image.convert("RGB").resize((inner_w, inner_h), Image.Resampling.LANCZOS), box[:2])
    mask = Image.new("L", (width, height), 255)
    inset = 2  # repaint a thin seam inside the picture too, so the border blends in
    mask.paste(0, (left + inset, top + inset, left + inner_w - inset, top + inner_h - inset))
    return canvas, mask, box


def keep_centre(
    painted: Image.Image, canvas: Image.Image, box: tuple[int, int, int, int], feather: int = 3
) -> Image.Image:
    """The painted border around the original centre, with a soft seam `feather` pixels wide."""
    from PIL import ImageFilter

    alpha = Image.new("L", canvas.size, 0)
    left, top, right, bottom = box
    alpha.paste(255, (left + feather, top + feather, right - feather, bottom - feather))
    alpha = alpha.filter(ImageFilter.BoxBlur(feather))
    return Image.composite(canvas, painted.convert("RGB"), alpha)
