"""Styled versions of the Starter's procedural world, the training data of the shipped platform elements
(models/elements, scripts/train_elements.py), and the scalar each style's effect is measured by.

Every style keeps the scene (shapes, colours, positions, captions) and changes only how it is drawn:

- "outlined": every object gets a dark outline (black, 2 px at 32x32) — measured by `outline_strength`,
  how much darker than the background the band around the objects' edges is, against the base model's
  image for the same prompt and seed (prompts without black).
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


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return F.max_pool2d(t, 2 * r + 1, 1, r)[0, 0].numpy() > 0.5


def _edge_contrast(img: np.ndarray, objects: np.ndarray) -> float:
    """Mean darkness (1 - luma / 255) in the band around the objects' edges (2 px out, 1 px in) minus the
    mean darkness of the background away from them."""
    dark = 1.0 - _luma(img) / 255.0
    band = _dilate(objects, 2) & _dilate(~objects, 1)
    rest = ~_dilate(objects, 4)
    if not band.any() or not rest.any():
        return 0.0
    return float(dark[band].mean() - dark[rest].mean())


def _object_mask(img: np.ndarray) -> np.ndarray:
    """Pixels far (> 40) from the background colour the checker reads."""
    bg = np.array(COLORS[read_scene(img).background], np.float32)
    pix = img.astype(np.float32)
    near = np.sqrt(((pix - bg) ** 2).sum(-1)) <= 60
    if near.any():
        bg = np.median(pix[near], axis=0)
    return np.sqrt(((pix - bg) ** 2).sum(-1)) > 40


def outline_strength(images: Sequence[np.ndarray], base: Sequence[np.ndarray]) -> float:
    """How much darker the band around the objects is than the background, against the base images (same
    prompts and seeds, whose objects define the band): 0 for the base itself. A striped or darker background
    darkens band and background alike and does not count."""
    vals = []
    for im, b in zip(images, base, strict=True):
        m = _object_mask(b)
        if m.any():
            vals.append(_edge_contrast(im, m) - _edge_contrast(b, m))
    return float(np.mean(vals)) if vals else 0.0


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
    "outlined": ("outline strength (edge band darker than the background, vs base)", outline_strength),
    "pinstripe": ("stripe strength (|FFT| of background rows at period 8 / mean)", stripe_strength),
    "pastel": ("saturation drop (base mean HSV S minus this one)", mean_saturation),
}


def effect(style: str, images: Sequence[np.ndarray], base: Sequence[np.ndarray] | None) -> float:
    """The style's scalar effect, growing with the style; `base` is the same prompts and seeds without the
    element: outline strength against it, stripe strength absolute, the saturation drop from it."""
    if style == "pinstripe":
        return stripe_strength(images)
    if base is None:
        raise ValueError(f"the {style} effect is measured against the base images: give them")
    if style == "pastel":
        return mean_saturation(base) - mean_saturation(images)
    return outline_strength(images, base)


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
