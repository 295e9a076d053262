"""A software rasterizer in numpy: triangles (already in pixel coordinates) -> per pixel the nearest face, its
barycentric coordinates and its depth. No GPU, no display. Used twice: to render views of a mesh (orthographic
cameras around it) and to find, for every texel of a UV atlas, the face and point it belongs to.

Vectorised per chunk of triangles: each triangle's bounding box is expanded into candidate pixels, the
barycentrics of all candidates are computed at once, and the nearest candidate per pixel wins (a sort by
pixel then depth). A pixel is covered when its centre (x + 0.5, y + 0.5) lies inside the triangle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CANDIDATES_PER_CHUNK = 1 << 21  # candidate pixels per batch: bounds memory (~100 MB at most)
INSIDE_EPS = 1e-7


@dataclass(frozen=True)
class Fragments:
    face: np.ndarray  # (H, W) int64: the face drawn at each pixel, -1 where none
    bary: np.ndarray  # (H, W, 3) float64: its barycentric coordinates there
    depth: np.ndarray  # (H, W) float64: its depth there (smaller = nearer), +inf where none

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0


def rasterize(points: np.ndarray, depth: np.ndarray, width: int, height: int) -> Fragments:
    """`points` (F, 3, 2): each triangle's corners in pixels (x right, y down); `depth` (F, 3): per corner,
    interpolated linearly (orthographic). Faces seen edge-on (zero area on screen) draw nothing."""
    face_buf = np.full(height * width, -1, dtype=np.int64)
    depth_buf = np.full(height * width, np.inf)
    bary_buf = np.zeros((height * width, 3))
    if len(points) == 0:
        return _fragments(face_buf, bary_buf, depth_buf, width, height)
    xs, ys = points[..., 0], points[..., 1]
    x0 = np.clip(np.ceil(xs.min(axis=1) - 0.5), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(xs.max(axis=1) - 0.5), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(ys.min(axis=1) - 0.5), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(ys.max(axis=1) - 0.5), -1, height - 1).astype(np.int64)
    w = np.maximum(x1 - x0 + 1, 0)
    h = np.maximum(y1 - y0 + 1, 0)
    counts = w * h
    faces = np.nonzero(counts)[0]
    start = 0
    while start < len(faces):
        # as many faces as fit in one chunk (always at least one)
        cum = np.cumsum(counts[faces[start:]])
        stop = start + max(1, int(np.searchsorted(cum, CANDIDATES_PER_CHUNK, side="right")))
        chunk = faces[start:stop]
        _draw(chunk, counts[chunk], points, depth, x0, y0, w, width, face_buf, depth_buf, bary_buf)
        start = stop
    return _fragments(face_buf, bary_buf, depth_buf, width, height)


def _draw(
    chunk: np.ndarray,
    counts: np.ndarray,
    points: np.ndarray,
    depth: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    w: np.ndarray,
    width: int,
    face_buf: np.ndarray,
    depth_buf: np.ndarray,
    bary_buf: np.ndarray,
) -> None:
    tri = np.repeat(chunk, counts)
    offsets = np.arange(len(tri)) - np.repeat(np.cumsum(counts) - counts, counts)
    px = x0[tri] + offsets % w[tri]
    py = y0[tri] + offsets // w[tri]
    a, b, c = points[tri, 0], points[tri, 1], points[tri, 2]
    v0, v1 = b - a, c - a
    v2x, v2y = px + 0.5 - a[:, 0], py + 0.5 - a[:, 1]
    denom = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    ok = np.abs(denom) > 1e-12
    safe = np.where(ok, denom, 1.0)
    l1 = (v2x * v1[:, 1] - v1[:, 0] * v2y) / safe
    l2 = (v0[:, 0] * v2y - v2x * v0[:, 1]) / safe
    l0 = 1.0 - l1 - l2
    inside = ok & (l0 >= -INSIDE_EPS) & (l1 >= -INSIDE_EPS) & (l2 >= -INSIDE_EPS)
    if not inside.any():
        return
    tri, px, py, l0, l1, l2 = tri[inside], px[inside], py[inside], l0[inside], l1[inside], l2[inside]
    z = l0 * depth[tri, 0] + l1 * depth[tri, 1] + l2 * depth[tri, 2]
    pix = py * width + px
    order = np.lexsort((z, pix))  # by pixel, then nearest first
    pix, z = pix[order], z[order]
    first = np.concatenate(([True], pix[1:] != pix[:-1]))
    pick = order[first]
    pix, z = pix[first], z[first]
    nearer = z < depth_buf[pix]
    pix, pick, z = pix[nearer], pick[nearer], z[nearer]
    depth_buf[pix] = z
    face_buf[pix] = tri[pick]
    bary_buf[pix] = np.stack([l0[pick], l1[pick], l2[pick]], axis=1)


def _fragments(face: np.ndarray, bary: np.ndarray, depth: np.ndarray, width: int, height: int) -> Fragments:
    return Fragments(face.reshape(height, width), bary.reshape(height, width, 3), depth.reshape(height, width))
