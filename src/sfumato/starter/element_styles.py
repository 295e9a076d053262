"""Styled versions of the Starter's procedural world, the training data of the shipped platform elements
(models/elements, scripts/train_elements.py), and the scalar each style's effect is measured by.

Every style keeps the scene (shapes, colours, positions, captions) and changes only how it is drawn:

- "outlined": every object gets a dark outline (black, 2 px at 32x32) — measured by `outline_strength`,
  the share of near-black pixels in images whose prompt has no black in it.
- "pinstripe": the background carries horizontal stripes (4-px bands darkened to 60%, period 8 px) —
  measured by `stripe_strength`, the |FFT| of the background's row-mean luminance at period 8 ÷ mean.
- "pastel": every colour, background and objects, is mixed halfway to white — measured by
  `mean_saturation` (HSV S, lower = more pastel).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from .checker import read_scene
from .world import COLORS, Scene, _jitter, caption, object_geometry, sample_scene, shape_coverage

STYLES = ("outlined", "pinstripe", "pastel")
OUTLINE_PX = 2.0  # the outline's width on each side at 32 px (scaled with the image)
OUTLINE_RGB = (15, 15, 15)  # the world's black
STRIPE_PERIOD = 8
STRIPE_DARKEN = 0.6
PASTEL_MIX = 0.5


def _paint(img: np.ndarray, cov: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    return img * (1 - cov[..., None]) + rgb * cov[..., None]


def render_styled(scene: Scene, style: str, width: int, height: int, rng: random.Random) -> np.ndarray:
    """RGB uint8 (height, width, 3) of `scene` in `style` (the same rng draws as world.render)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {STYLES}")
    bg = _jitter(COLORS[scene.background], rng)
    img = np.empty((height, width, 3), np.float32)
    img[:] = bg
    if style == "pinstripe":
        rows = (np.arange(height) % STRIPE_PERIOD) < STRIPE_PERIOD // 2
        img[rows] *= STRIPE_DARKEN
    for obj in scene.objects:
        cx, cy, d = object_geometry(obj, width, height, rng)
        rgb = _jitter(COLORS[obj.color], rng)
        if style == "outlined":
            ow = OUTLINE_PX * min(width, height) / 32
            ring = shape_coverage(obj.shape, cx, cy, d + 2 * ow, width, height)
            img = _paint(img, ring, np.array(OUTLINE_RGB, np.float32))
        img = _paint(img, shape_coverage(obj.shape, cx, cy, d, width, height), rgb)
    if style == "pastel":
        img = img * (1 - PASTEL_MIX) + 255.0 * PASTEL_MIX
    return np.round(np.clip(img, 0, 255)).astype(np.uint8)


def styled_dataset(style: str, n: int, seed: int = 0, size: int = 32) -> tuple[list[Image.Image], list[str]]:
    """n styled training scenes (the world's train split) and their captions (the world's phrasings)."""
    rng = random.Random(f"element-{style}-{seed}")
    images, caps = [], []
    for _ in range(n):
        scene = sample_scene(rng, "train")
        images.append(Image.fromarray(render_styled(scene, style, size, size, rng)))
        caps.append(caption(scene, rng))
    return images, caps


# --- effect measures ------------------------------------------------------------------------------------


def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def outline_strength(images: Sequence[np.ndarray]) -> float:
    """Mean share of near-black pixels (within 60 of the world's black) per image."""
    black = np.array(COLORS["black"], np.float32)
    return float(np.mean([(np.sqrt(((im.astype(np.float32) - black) ** 2).sum(-1)) < 60).mean() for im in images]))


def stripe_strength(images: Sequence[np.ndarray]) -> float:
    """Mean over images of |FFT| at period STRIPE_PERIOD of the row-mean luminance of the background pixels
    (those nearest the background colour the checker reads), divided by the mean luminance."""
    vals = []
    for im in images:
        reading = read_scene(im)
        bg = np.array(COLORS[reading.background], np.float32)
        y = _luma(im)
        # background-ish pixels: closer to the background colour (or its darkened stripe) than 80
        pix = im.astype(np.float32)
        d = np.minimum(np.sqrt(((pix - bg) ** 2).sum(-1)), np.sqrt(((pix - bg * STRIPE_DARKEN) ** 2).sum(-1)))
        m = d < 80
        rows = np.array([y[r][m[r]].mean() if m[r].any() else np.nan for r in range(y.shape[0])])
        if np.isnan(rows).all():
            continue
        rows = np.where(np.isnan(rows), np.nanmean(rows), rows)
        spec = np.abs(np.fft.rfft(rows - rows.mean())) / len(rows)
        k = len(rows) // STRIPE_PERIOD
        vals.append(2 * spec[k] / max(float(rows.mean()), 1.0))
    return float(np.mean(vals)) if vals else 0.0


def mean_saturation(images: Sequence[np.ndarray]) -> float:
    """Mean HSV saturation (0..1) over all pixels of all images."""
    out = []
    for im in images:
        f = im.astype(np.float32)
        mx, mn = f.max(-1), f.min(-1)
        out.append(float(np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0).mean()))
    return float(np.mean(out))


EFFECTS: dict[str, tuple[str, Callable[[Sequence[np.ndarray]], float]]] = {
    "outlined": ("outline strength (share of near-black pixels)", outline_strength),
    "pinstripe": ("stripe strength (|FFT| of background rows at period 8 / mean)", stripe_strength),
    "pastel": ("saturation drop (base mean HSV S minus this one)", mean_saturation),
}


def effect(style: str, images: Sequence[np.ndarray], base: Sequence[np.ndarray] | None = None) -> float:
    """The style's scalar effect, growing with the style: for pastel the saturation drop against `base`
    (the same prompts and seeds without the element); the others absolute."""
    if style == "pastel":
        if base is None:
            raise ValueError("the pastel effect is a drop: give the base images")
        return mean_saturation(base) - mean_saturation(images)
    return EFFECTS[style][1](images)


def eval_prompts(n: int, seed: int = 99) -> list[str]:
    """Held-out scene captions without black (outline strength counts black pixels)."""
    rng = random.Random(f"element-eval-{seed}")
    out = []
    while len(out) < n:
        scene = sample_scene(rng, "heldout")
        if scene.background == "black" or any(o.color == "black" for o in scene.objects):
            continue
        out.append(caption(scene, rng))
    return out
