"""Orthographic cameras around a normalized mesh (inside the unit sphere, Y up) and what they see: the depth
and normal-shaded pictures that guide generation, and renders of the textured mesh.

The front camera looks at the mesh from +Z; `front_rotation_offset` turns every camera by that many degrees
about the vertical (Y) axis, counter-clockwise seen from above (90 puts the front camera at +X)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from sfumato.engine.texture.mesh import Mesh
from sfumato.engine.texture.raster import Fragments, rasterize

FRAME = 1.05  # half the width of what a camera sees, in normalized units (the mesh fits in the unit sphere)
# name -> (direction from the mesh toward the camera, the camera's up), before the front rotation
DIRECTIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "front": ((0, 0, 1), (0, 1, 0)),
    "right": ((1, 0, 0), (0, 1, 0)),
    "back": ((0, 0, -1), (0, 1, 0)),
    "left": ((-1, 0, 0), (0, 1, 0)),
    "top": ((0, 1, 0), (0, 0, -1)),
    "bottom": ((0, -1, 0), (0, 0, 1)),
}
ALL_VIEWS = tuple(DIRECTIONS)
BACKGROUND = (127, 127, 127)


def _rotation_y(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


@dataclass(frozen=True)
class Camera:
    name: str
    direction: np.ndarray  # unit vector from the mesh toward the camera
    right: np.ndarray
    up: np.ndarray
    size: int  # square picture, pixels

    @classmethod
    def named(cls, name: str, size: int, front_rotation_offset: float = 0.0) -> Camera:
        direction, up = DIRECTIONS[name]
        turn = _rotation_y(front_rotation_offset)
        d, u = turn @ np.array(direction, float), turn @ np.array(up, float)
        right = np.cross(-d, u)
        return cls(name, d, right / np.linalg.norm(right), u, size)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(..., 3) points -> (..., 2) pixel coordinates (x right, y down) and depth (smaller = nearer)."""
        x, y = points @ self.right, points @ self.up
        half = self.size / 2
        xy = np.stack([(x / FRAME + 1) * half, (1 - y / FRAME) * half], axis=-1)
        return xy, -(points @ self.direction)

    def pixel_world_size(self) -> float:
        return 2 * FRAME / self.size

    def rasterize(self, mesh: Mesh) -> Fragments:
        xy, depth = self.project(mesh.vertices[mesh.faces])
        return rasterize(xy, depth, self.size, self.size)


def facing_normals(mesh: Mesh, camera: Camera, frags: Fragments) -> np.ndarray:
    """(H, W, 3) face normals at each covered pixel, flipped toward the camera (open meshes show both sides)."""
    normals = mesh.face_normals[np.maximum(frags.face, 0)]
    flip = (normals @ camera.direction) < 0
    normals[flip] *= -1
    return normals


def light_of(camera: Camera) -> np.ndarray:
    light = camera.direction + 0.5 * camera.up + 0.3 * camera.right
    return light / np.linalg.norm(light)


def guide_pictures(mesh: Mesh, camera: Camera) -> tuple[Image.Image, Image.Image, Fragments]:
    """What the camera sees of the bare mesh: normal shading (RGB, grey on a grey background: the image-to-
    image start) and depth (L, near = white, empty = black: for a depth ControlNet), and the fragments."""
    frags = camera.rasterize(mesh)
    mask = frags.mask
    shade = 0.25 + 0.75 * np.clip(facing_normals(mesh, camera, frags) @ light_of(camera), 0, 1)
    rgb = np.empty((camera.size, camera.size, 3))
    rgb[:] = BACKGROUND
    rgb[mask] = (shade[mask] * 230)[:, None]
    near = np.where(mask, frags.depth, 0.0)
    depth = np.zeros(mask.shape)
    if mask.any():
        low, high = near[mask].min(), near[mask].max()
        depth[mask] = 255 * (0.2 + 0.8 * (high - near[mask]) / max(high - low, 1e-9))
    shading = Image.fromarray(rgb.round().astype(np.uint8), "RGB")
    return shading, Image.fromarray(depth.round().astype(np.uint8), "L"), frags


def render_textured(mesh: Mesh, atlas: Image.Image, camera: Camera) -> Image.Image:
    """The mesh wearing `atlas` (its UVs), lit from the camera's side: RGBA, transparent around the mesh."""
    if mesh.uvs is None:
        raise ValueError("render_textured needs a mesh with UVs")
    frags = camera.rasterize(mesh)
    mask = frags.mask
    texels = np.asarray(atlas.convert("RGB"), np.float64)
    n = texels.shape[0]
    out = np.zeros((camera.size, camera.size, 4))
    if mask.any():
        corners = mesh.uvs[mesh.faces[frags.face[mask]]]  # (M, 3, 2)
        uv = np.einsum("mk,mkj->mj", frags.bary[mask], corners)
        colour = sample(texels, uv_to_pixels(uv, n))
        shade = 0.35 + 0.65 * np.clip(facing_normals(mesh, camera, frags)[mask] @ light_of(camera), 0, 1)
        out[mask, :3] = colour * shade[:, None]
        out[mask, 3] = 255
    return Image.fromarray(np.clip(out.round(), 0, 255).astype(np.uint8), "RGBA")


def uv_to_pixels(uv: np.ndarray, size: int) -> np.ndarray:
    """UV (v up, wrapped into [0, 1)) -> atlas pixel coordinates (x right, y down)."""
    wrapped = np.where((uv >= 0) & (uv <= 1), uv, np.mod(uv, 1.0))
    return np.stack([wrapped[:, 0] * size, (1 - wrapped[:, 1]) * size], axis=1)


def sample(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Bilinear samples of an (H, W, C) array at pixel coordinates (pixel centres at +0.5), edges clamped."""
    h, w = image.shape[:2]
    x = np.clip(xy[:, 0] - 0.5, 0, w - 1)
    y = np.clip(xy[:, 1] - 0.5, 0, h - 1)
    xi, yi = np.floor(x).astype(int), np.floor(y).astype(int)
    xj, yj = np.minimum(xi + 1, w - 1), np.minimum(yi + 1, h - 1)
    fx, fy = (x - xi)[:, None], (y - yi)[:, None]
    top = image[yi, xi] * (1 - fx) + image[yi, xj] * fx
    bottom = image[yj, xi] * (1 - fx) + image[yj, xj] * fx
    return top * (1 - fy) + bottom * fy
