"""Auto-captions for training images on the Starter: the checker reads the scene back from the pixels
(background, each object's colour and position, its size from the bounding box), and the caption is
written in the Starter's own caption grammar, with the concept's token in place of the shape word.

Leonardo's datasets carry no captions (only the instance prompt), so this is what binds a new concept to
its token while the colour, position and background words keep their meaning: "a red <s3> on the left, on a
blue background" teaches the token the shape only, not "red, on the left".
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from PIL import Image

from .checker import _PALETTE, MIN_AREA_FRAC, _components, read_scene
from .world import COLOR_NAMES, COLORS, Obj, Scene, canonical_caption, caption

LARGE_FROM = 0.35  # bounding-box extent / min(w, h): small shapes are 0.28 (+-7%), large 0.42


def _extents(img: np.ndarray, bg: str) -> list[float]:
    """Bounding-box extent (largest side / min(w, h)) of each object component, largest component first:
    the same components, in the same order, as checker.read_scene."""
    h, w, _ = img.shape
    pix = img.reshape(-1, 3).astype(np.float32)
    labels = (np.argmin(((pix[:, None, :] - _PALETTE[None]) ** 2).sum(-1), axis=1) == COLOR_NAMES.index(bg)).reshape(
        h, w
    )
    bg_rgb = np.median(img[labels].astype(np.float32), axis=0) if labels.any() else np.array(COLORS[bg], np.float32)
    diff = np.sqrt(((img.astype(np.float32) - bg_rgb) ** 2).sum(-1))
    comps = sorted((c for c in _components(diff > 40.0) if len(c) >= MIN_AREA_FRAC * h * w), key=len, reverse=True)
    out = []
    for c in comps:
        ext = max(int(np.ptp(c[:, 0])) + 1, int(np.ptp(c[:, 1])) + 1)
        out.append(ext / min(h, w))
    return out


def read_concept_scene(image: Image.Image, token: str | None, size: tuple[int, int] = (32, 32)) -> Scene:
    """The scene in `image` (resized to the Starter's `size`) as the checker reads it; with a token, the
    largest object's shape is the token (the concept), the others keep the shape the checker reads. May
    have no objects (an image the checker finds empty)."""
    img = np.asarray(image.convert("RGB").resize(size, Image.Resampling.LANCZOS))
    reading = read_scene(img, max_objects=2)
    extents = _extents(img, reading.background)
    objs = []
    for i, d in enumerate(reading.objects):
        shape = token if (token is not None and i == 0) else d.shape
        large = i < len(extents) and extents[i] >= LARGE_FROM
        objs.append(Obj(shape, d.color, d.position, "large" if large else "small"))
    return Scene(reading.background, tuple(objs))


def scene_caption(scene: Scene, rng: random.Random | None = None, token: str | None = None) -> str:
    """One phrasing of the scene in the Starter's grammar (canonical without rng); an empty scene is the
    token (if any) on its background."""
    if not scene.objects:
        return f"{token + ' ' if token else ''}on a {scene.background} background"
    if len(scene.objects) == 2 and scene.objects[0].shape == scene.objects[1].shape and token is not None:
        scene = Scene(scene.background, scene.objects[:1])  # no plural for a token
    return caption(scene, rng) if rng is not None else canonical_caption(scene)


def caption_sampler(image: Image.Image, token: str | None, size: tuple[int, int] = (32, 32)) -> Callable:
    """rng -> a caption of `image` in one of the Starter's phrasings (the reading is done once)."""
    scene = read_concept_scene(image, token, size)
    return lambda rng: scene_caption(scene, rng, token)
