"""Reads a scene back from pixels: background colour, and for each object its colour, shape and position.

It is deliberately independent of the model: nearest named colour, connected components of the pixels that
differ from the background, template matching (IoU) against the renderer's own shapes for the shape, and
the nearest grid cell of the centroid for the position. Tested on ground-truth renders (>= 99%).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cache
from itertools import permutations

import numpy as np

from .world import COLOR_NAMES, COLORS, GRID, POSITIONS, SHAPES, Scene, shape_coverage

_PALETTE = np.array([COLORS[c] for c in COLOR_NAMES], dtype=np.float32)
MIN_AREA_FRAC = 0.012  # components smaller than this fraction of the image are noise


@dataclass
class Detected:
    color: str
    shape: str
    position: str
    area: int
    centroid: tuple[float, float]


@dataclass
class Reading:
    background: str
    objects: list[Detected]


def nearest_color(rgb: np.ndarray) -> str:
    return COLOR_NAMES[int(np.argmin(((_PALETTE - rgb) ** 2).sum(-1)))]


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, as arrays of (y, x)."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    comps = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        q, pts = deque([(y0, x0)]), []
        while q:
            y, x = q.popleft()
            pts.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    q.append((ny, nx))
        comps.append(np.array(pts))
    return comps


_UNIT_D = 96.0  # templates for the unit statistics are drawn this large (exact to well under 1%)


@cache
def _unit_stats(shape: str) -> tuple[float, float, float]:
    """(area, centroid dx, centroid dy) of `shape` drawn with diameter 1 centred at the origin."""
    size = int(_UNIT_D * 1.5)
    cov = shape_coverage(shape, size / 2, size / 2, _UNIT_D, size, size).astype(np.float64)
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    area = cov.sum()
    dx = ((cov * xs).sum() / area - size / 2) / _UNIT_D
    dy = ((cov * ys).sum() / area - size / 2) / _UNIT_D
    return area / _UNIT_D**2, dx, dy


def classify_shape(alpha: np.ndarray) -> str:
    """The shape whose anti-aliased template best fits the object's coverage `alpha` (float, 0..1 per
    pixel). Each template is drawn with the same area and centroid as alpha, so the fit compares outlines
    only; soft coverage keeps the sub-pixel edge information that a thresholded mask loses at small sizes."""
    h, w = alpha.shape
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    area = float(alpha.sum())
    mx, my = float((alpha * xs).sum()) / area, float((alpha * ys).sum()) / area
    best, best_err = SHAPES[0], float("inf")
    for shape in SHAPES:
        unit_area, dx, dy = _unit_stats(shape)
        d = (area / unit_area) ** 0.5
        tmpl = shape_coverage(shape, mx - dx * d, my - dy * d, d, w, h)
        err = float(((tmpl - alpha) ** 2).sum())
        if err < best_err:
            best, best_err = shape, err
    return best


def comp_mask_of(comp: np.ndarray, h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[comp[:, 0], comp[:, 1]] = True
    return mask


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask plus its 4-neighbours."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def nearest_position(fx: float, fy: float) -> str:
    best, dist = "center", 9.0
    for name, (col, row) in POSITIONS.items():
        d = (fx - GRID[col]) ** 2 + (fy - GRID[row]) ** 2
        if d < dist:
            best, dist = name, d
    return best


def read_scene(img: np.ndarray, max_objects: int = 2) -> Reading:
    """Detect the background and up to `max_objects` objects in an RGB uint8 image."""
    h, w, _ = img.shape
    pix = img.reshape(-1, 3).astype(np.float32)
    labels = np.argmin(((pix[:, None, :] - _PALETTE[None]) ** 2).sum(-1), axis=1)
    bg_idx = int(np.bincount(labels, minlength=len(COLOR_NAMES)).argmax())
    bg_rgb = np.median(pix[labels == bg_idx], axis=0)
    diff = np.sqrt(((img.astype(np.float32) - bg_rgb) ** 2).sum(-1))
    # a pixel is "object" when it is far from the background (half of the smallest colour gap, ~40)
    comps = [c for c in _components(diff > 40.0) if len(c) >= MIN_AREA_FRAC * h * w]
    comps.sort(key=len, reverse=True)
    objects = []
    for comp in comps[:max_objects]:
        ys, xs = comp[:, 0], comp[:, 1]
        core = img[ys, xs].astype(np.float32)
        # the object's colour from its most saturated half (edges blend with the background)
        far = diff[ys, xs] >= np.median(diff[ys, xs])
        rgb = np.median(core[far], axis=0)
        color = nearest_color(rgb)
        # soft coverage: each pixel's position on the line from the background to the object colour, in
        # the component grown by one pixel (its anti-aliased rim is closer to the background than 40)
        region = _grow(comp_mask_of(comp, h, w))
        span = rgb - bg_rgb
        alpha = ((img.astype(np.float32) - bg_rgb) @ span) / max(float(span @ span), 1e-6)
        alpha = np.where(region, np.clip(alpha, 0.0, 1.0), 0.0)
        gy, gx = np.mgrid[0:h, 0:w] + 0.5
        area = float(alpha.sum())
        fx, fy = float((alpha * gx).sum()) / area / w, float((alpha * gy).sum()) / area / h
        objects.append(Detected(color, classify_shape(alpha), nearest_position(fx, fy), int(len(comp)), (fx, fy)))
    return Reading(COLOR_NAMES[bg_idx], objects)


@dataclass
class Score:
    background: bool
    color: list[bool]
    shape: list[bool]
    position: list[bool]
    count_ok: bool

    @property
    def all_right(self) -> bool:
        return self.background and self.count_ok and all(self.color) and all(self.shape) and all(self.position)


def score(scene: Scene, reading: Reading) -> Score:
    """Match expected objects to detected ones (best of the permutations) and compare attributes."""
    n = len(scene.objects)
    det = reading.objects
    best: tuple[int, list[bool], list[bool], list[bool]] | None = None
    for perm in permutations(range(len(det)), min(n, len(det))):
        cs, ss, ps = [False] * n, [False] * n, [False] * n
        for i, j in enumerate(perm):
            o, d = scene.objects[i], det[j]
            cs[i], ss[i], ps[i] = o.color == d.color, o.shape == d.shape, o.position == d.position
        total = sum(cs) + sum(ss) + sum(ps)
        if best is None or total > best[0]:
            best = (total, cs, ss, ps)
    if best is None:
        best = (0, [False] * n, [False] * n, [False] * n)
    return Score(reading.background == scene.background, best[1], best[2], best[3], len(det) == n)
