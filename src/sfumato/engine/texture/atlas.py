"""The UV atlas side: UVs for a mesh that has none (xatlas), where every texel of the atlas lies on the mesh
(its 3D point and normal, by rasterizing the faces in UV space), and projecting pictures taken by cameras
back onto those texels: each texel takes its colour from the camera that sees it most head-on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sfumato.engine.texture.mesh import Mesh
from sfumato.engine.texture.raster import Fragments, rasterize
from sfumato.engine.texture.unwrap import generate_uvs
from sfumato.engine.texture.views import Camera, sample, uv_to_pixels

MIN_FACING = 0.05  # a camera must see a texel at least this head-on (cosine) to paint it
PADDING = 4  # texels painted past each island's edge, so filtered lookups at seams find colour
VISIBLE_PIXELS = 2.5  # depth slack, in the camera's pixels, when testing whether a texel is the one seen


def usable_uvs(mesh: Mesh) -> bool:
    """UVs that can hold one texture: present and inside [0, 1] (tiling UVs would share texels)."""
    return mesh.uvs is not None and bool(((mesh.uvs >= -1e-3) & (mesh.uvs <= 1 + 1e-3)).all())


def with_uvs(mesh: Mesh) -> tuple[Mesh, bool]:
    """The mesh with usable UVs, and whether they were generated here (xatlas splits vertices at seams)."""
    if usable_uvs(mesh):
        return Mesh(mesh.vertices, mesh.faces, np.clip(mesh.uvs, 0, 1)), False  # type: ignore[arg-type]
    vmapping, indices, uvs = generate_uvs(mesh.vertices, mesh.faces)  # xatlas, in a child process
    return Mesh(mesh.vertices[vmapping], indices.astype(np.int64), uvs.astype(np.float64)), True


@dataclass(frozen=True)
class Texels:
    """The atlas texels that lie on the mesh: their (row, col), 3D point and face normal."""

    size: int
    rows: np.ndarray
    cols: np.ndarray
    points: np.ndarray  # (T, 3)
    normals: np.ndarray  # (T, 3)


def texels_of(mesh: Mesh, size: int) -> Texels:
    if mesh.uvs is None:
        raise ValueError("texels_of needs a mesh with UVs")
    corners = mesh.uvs[mesh.faces].reshape(-1, 2)
    xy = uv_to_pixels(corners, size).reshape(-1, 3, 2)
    frags = rasterize(xy, np.zeros(xy.shape[:2]), size, size)
    rows, cols = np.nonzero(frags.mask)
    faces = frags.face[rows, cols]
    bary = frags.bary[rows, cols]
    points = np.einsum("tk,tkj->tj", bary, mesh.vertices[mesh.faces[faces]])
    return Texels(size, rows, cols, points, mesh.face_normals[faces])


def project_views(
    mesh: Mesh, texels: Texels, views: list[tuple[Camera, Image.Image]], seen: list[Fragments] | None = None
) -> tuple[Image.Image, float]:
    """The atlas: each texel coloured from the camera that sees it most head-on (`views`: each camera and the
    picture it took, any size: it is read at the camera's resolution). Seen texels are padded by PADDING
    texels (islands' edges, and the rim of what a camera saw); the rest (unseen, between islands) gets the mean
    colour of the seen ones. Also returns the share of the mesh's texels some camera saw. `seen`: each camera's
    fragments of `mesh` when the caller has them already (else they are rasterized here)."""
    count = len(texels.rows)
    best = np.full(count, -np.inf)
    colour = np.zeros((count, 3))
    for i, (camera, picture) in enumerate(views):
        frags = seen[i] if seen is not None else camera.rasterize(mesh)
        pixels = np.asarray(picture.convert("RGB").resize((camera.size, camera.size), Image.Resampling.BICUBIC))
        xy, depth = camera.project(texels.points)
        col = np.clip(xy[:, 0].astype(int), 0, camera.size - 1)
        row = np.clip(xy[:, 1].astype(int), 0, camera.size - 1)
        seen_depth = frags.depth[row, col]
        visible = np.abs(depth - seen_depth) <= VISIBLE_PIXELS * camera.pixel_world_size()
        facing = texels.normals @ camera.direction
        facing = np.where(visible & (facing >= MIN_FACING), facing, -np.inf)
        better = facing > best
        if better.any():
            best[better] = facing[better]
            colour[better] = sample(pixels.astype(np.float64), xy[better])
    painted = np.isfinite(best)
    mean = colour[painted].mean(axis=0) if painted.any() else np.full(3, 127.0)
    atlas = np.zeros((texels.size, texels.size, 3))
    known = np.zeros((texels.size, texels.size), bool)
    atlas[texels.rows[painted], texels.cols[painted]] = colour[painted]
    known[texels.rows[painted], texels.cols[painted]] = True
    atlas, known = _dilate(atlas, known, PADDING)
    atlas[~known] = mean
    image = Image.fromarray(np.clip(atlas.round(), 0, 255).astype(np.uint8), "RGB")
    return image, float(painted.mean()) if count else 0.0


def _dilate(atlas: np.ndarray, known: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Grow the known colours `steps` texels into unknown neighbours (each the mean of its known 4-neighbours)."""
    for _ in range(steps):
        total = np.zeros_like(atlas)
        n = np.zeros(known.shape)
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            shifted = np.roll(known, (dy, dx), axis=(0, 1))
            total += np.roll(atlas, (dy, dx), axis=(0, 1)) * shifted[..., None]
            n += shifted
        grow = ~known & (n > 0)
        if not grow.any():
            break
        atlas[grow] = total[grow] / n[grow][:, None]
        known = known | grow
    return atlas, known
