"""Cheap previews of a denoising step: the latents mapped to RGB by a linear map fitted to the model's own VAE
(once per VAE, from a few smooth colour fields it encodes), so a step's preview costs one small matrix product,
never a decoder pass. Rough by design: colours and layout, not detail."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import torch
from PIL import Image

FIT_IMAGES = 12  # smooth random colour fields the VAE encodes once
FIT_SIDE = 64
_maps: weakref.WeakKeyDictionary[Any, torch.Tensor] = weakref.WeakKeyDictionary()


def _colour_fields(n: int, side: int) -> torch.Tensor:
    """n images in [-1, 1]: 4x4 random colours smoothly upsampled (flat regions and gradients)."""
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(side, side), mode="bilinear", align_corners=True)


@torch.no_grad()
def latent_rgb_map(vae: Any) -> torch.Tensor:
    """(channels + 1) x 3: latents (scaled as the pipeline's) plus a bias -> RGB in [-1, 1]."""
    found = _maps.get(vae)
    if found is not None:
        return found
    images = _colour_fields(FIT_IMAGES, FIT_SIDE).to(vae.device, vae.dtype)
    latents = vae.encode(images).latent_dist.mean * getattr(vae.config, "scaling_factor", 1.0)
    target = torch.nn.functional.interpolate(images.float(), size=latents.shape[-2:], mode="area")
    a = latents.float().permute(0, 2, 3, 1).reshape(-1, latents.shape[1])
    a = torch.cat([a, torch.ones(a.shape[0], 1)], dim=1)
    b = target.permute(0, 2, 3, 1).reshape(-1, 3)
    mapping = torch.linalg.lstsq(a.cpu(), b.cpu()).solution
    _maps[vae] = mapping
    return mapping


@torch.no_grad()
def latent_preview(vae: Any, latents: torch.Tensor, size: tuple[int, int]) -> Image.Image | None:
    """The first image of a batch of (B, C, h, w) latents as an RGB picture of `size`; None for other shapes
    (video latents)."""
    if latents.dim() != 4:
        return None
    mapping = latent_rgb_map(vae)
    if latents.shape[1] + 1 != mapping.shape[0]:
        return None
    pixels = latents[0].float().cpu().permute(1, 2, 0)
    rgb = torch.cat([pixels, torch.ones(*pixels.shape[:2], 1)], dim=-1) @ mapping
    array = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return Image.fromarray(np.ascontiguousarray(array)).resize(size, Image.Resampling.BILINEAR)
