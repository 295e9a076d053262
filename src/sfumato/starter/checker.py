"""Reads a scene back from pixels: background colour, and for each object its colour, shape and position.

It is deliberately independent of the model: nearest named colour, connected components of the pixels that
differ from the background, template matching (IoU) against the renderer's own shapes for the shape, and
the nearest grid cell of the centroid for the position. Tested on ground-truth renders (>= 99%).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from .world import COLOR_NAMES, COLORS, GRID, POLYGONS, POSITIONS, SHAPES, Scene, shape_coverage

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


def _bbox_unit(shape: str) -> tuple[float, float, float, float]:
    if shape == "circle":
        return -1.0, -1.0, 1.0, 1.0
    xs, ys = zip(*POLYGONS[shape], strict=True)
    return min(xs), min(ys), max(xs), max(ys)


def classify_shape(mask: np.ndarray) -> str:
    """Best template IoU: each shape is drawn so that its bounding box matches the mask's."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    bx0, bx1, by0, by1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    bw, bh = bx1 - bx0, by1 - by0
    best, best_iou = SHAPES[0], -1.0
    for shape in SHAPES:
        ux0, uy0, ux1, uy1 = _bbox_unit(shape)
        # diameter so that the unit bbox scales to the mask's bbox (mean of the two axes)
        d = (bw / (ux1 - ux0)) + (bh / (uy1 - uy0))
        cx = (bx0 + bx1) / 2 - (ux0 + ux1) / 2 * d / 2
        cy = (by0 + by1) / 2 - (uy0 + uy1) / 2 * d / 2
        tmpl = shape_coverage(shape, cx, cy, d, w, h) >= 0.5
        iou = (tmpl & mask).sum() / max(1, (tmpl | mask).sum())
        if iou > best_iou:
            best, best_iou = shape, iou
    return best


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
        # mask at the 50% blend between background and object colour, restricted to this component
        d_obj = ((img.astype(np.float32) - rgb) ** 2).sum(-1)
        d_bg = ((img.astype(np.float32) - bg_rgb) ** 2).sum(-1)
        comp_mask = np.zeros((h, w), bool)
        comp_mask[ys, xs] = True
        mask = comp_mask & (d_obj < d_bg)
        if mask.sum() < 4:
            mask = comp_mask
        my, mx = np.nonzero(mask)
        fx, fy = (mx.mean() + 0.5) / w, (my.mean() + 0.5) / h
        objects.append(Detected(color, classify_shape(mask), nearest_position(fx, fy), int(mask.sum()), (fx, fy)))
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
