"""The universal upscaler's engine part: enlarge (the installed ESRGAN-family model, else Lanczos; see
engine/postprocess.py), then refine tile by tile with the model's image-to-image at a low strength, keeping
only each tile's fine detail (`add_detail`), the tiles blended over feathered overlaps.

Tiles bound memory and keep each refinement at a size the model draws well: a 2048-pixel picture is refined as
overlapping 512-pixel tiles, each rendered at the model's own size (its bucket, for the Starter) and resized
back. Colours and layout stay the enlarged picture's: the refinement only adds texture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from sfumato.engine.postprocess import add_detail, enlarge
from sfumato.engine.types import GenerateRequest, GenerateResult

TILE = 512
OVERLAP = 64


class _Engine(Protocol):
    addons_dir: Path | None
    device: str

    def generate(self, request: GenerateRequest) -> GenerateResult: ...


@dataclass(frozen=True)
class TiledUpscale:
    model_path: Path
    image: Image.Image
    size: tuple[int, int]  # the output's width and height
    prompt: str
    seed: int
    strength: float  # image-to-image strength of the refinement (0 < strength <= 1)
    detail: float = 0.5  # how much of the refinement's detail is kept (add_detail's weight)
    steps: int = 20


def tile_boxes(width: int, height: int, tile: int = TILE, overlap: int = OVERLAP) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) covering the picture, `overlap` pixels shared between neighbours."""

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        step = tile - overlap
        out = list(range(0, n - tile, step))
        return [*out, n - tile]

    return [(x, y, min(x + tile, width), min(y + tile, height)) for y in starts(height) for x in starts(width)]


def _feather(w: int, h: int, box: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    """Weights ramping up over the overlap on every side that has a neighbour (flat at the picture's edge)."""
    ramp_x, ramp_y = np.ones(w, np.float32), np.ones(h, np.float32)
    n = min(OVERLAP, w // 2, h // 2)
    if n > 0:
        rise = (np.arange(n, dtype=np.float32) + 0.5) / n
        if box[0] > 0:
            ramp_x[:n] = rise
        if box[2] < width:
            ramp_x[-n:] = np.minimum(ramp_x[-n:], rise[::-1])
        if box[1] > 0:
            ramp_y[:n] = rise
        if box[3] < height:
            ramp_y[-n:] = np.minimum(ramp_y[-n:], rise[::-1])
    return (ramp_y[:, None] * ramp_x[None, :])[..., None]


def tiled_upscale(engine: _Engine, job: TiledUpscale) -> tuple[Image.Image, str]:
    """The picture at job.size, and how it was made ("lanczos+tiled-diffusion-detail", "esrgan:x4+...")."""
    big, how = enlarge(job.image, job.size, engine.addons_dir, engine.device)
    width, height = big.size
    acc = np.zeros((height, width, 3), np.float32)
    weights = np.zeros((height, width, 1), np.float32)
    for i, box in enumerate(tile_boxes(width, height)):
        piece = big.crop(box)
        w, h = piece.size
        refined = engine.generate(
            GenerateRequest(
                model_path=job.model_path,
                prompt=job.prompt,
                width=w,
                height=h,
                num_inference_steps=job.steps,
                seed=job.seed + i,
                init_image=piece,
                strength=job.strength,
            )
        ).images[0]
        detailed = np.asarray(add_detail(piece, refined, weight=job.detail), np.float32)
        feather = _feather(w, h, box, width, height)
        acc[box[1] : box[3], box[0] : box[2]] += detailed * feather
        weights[box[1] : box[3], box[0] : box[2]] += feather
    out = np.clip(np.round(acc / np.maximum(weights, 1e-6)), 0, 255).astype(np.uint8)
    return Image.fromarray(out, "RGB"), f"{how}+tiled-diffusion-detail"
