"""Texturing a mesh, end to end, with any picture maker: views of the bare mesh rendered here guide the
pictures (`paint`: the job hands in the engine's image-to-image), the pictures are projected onto the mesh's
UV atlas (UVs generated when it has none), and the textured mesh is rendered from the preview side.

`preview=True` paints only the preview camera's view: one picture instead of six, the atlas coloured where
that camera sees the mesh and the mean colour elsewhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from sfumato.engine.texture.atlas import project_views, texels_of, with_uvs
from sfumato.engine.texture.mesh import Mesh
from sfumato.engine.texture.raster import Fragments
from sfumato.engine.texture.views import ALL_VIEWS, Camera, guide_pictures, render_textured


@dataclass(frozen=True)
class Guide:
    """One camera's picture of the bare mesh, handed to `paint`."""

    view: str  # front, right, back, left, top, bottom
    index: int  # 0 for the first view painted, 1 for the next...
    shading: Image.Image  # RGB: normal shading, grey background
    depth: Image.Image  # L: near = white, empty = black


Paint = Callable[[Guide], Image.Image]


@dataclass(frozen=True)
class TextureJob:
    mesh: Mesh
    front_rotation_offset: float = 0.0
    preview: bool = False
    preview_direction: str = "front"
    atlas_size: int = 512
    view_size: int = 256
    preview_size: int = 256


@dataclass
class TextureResult:
    atlas: Image.Image  # RGB, atlas_size square
    preview: Image.Image  # RGBA render of the textured mesh from the preview side
    mesh: Mesh  # the mesh (its own coordinates) with the UVs the atlas follows
    uvs_generated: bool
    views: list[str] = field(default_factory=list)  # the views painted, in order
    coverage: float = 0.0  # share of the mesh's texels some painted view saw
    seconds: dict[str, float] = field(default_factory=dict)


def texture_mesh(job: TextureJob, paint: Paint, progress: Callable[[int, int], None] | None = None) -> TextureResult:
    started = time.perf_counter()
    original, generated = with_uvs(job.mesh)
    mesh = original.normalized()  # what the cameras frame; the UVs (and the atlas) are the same
    unwrapped = time.perf_counter()
    names = [job.preview_direction] if job.preview else list(ALL_VIEWS)
    taken: list[tuple[Camera, Image.Image]] = []
    seen: list[Fragments] = []
    for i, name in enumerate(names):
        camera = Camera.named(name, job.view_size, job.front_rotation_offset)
        shading, depth, frags = guide_pictures(mesh, camera)
        taken.append((camera, paint(Guide(name, i, shading, depth))))
        seen.append(frags)
        if progress is not None:
            progress(i + 1, len(names))
    painted = time.perf_counter()
    atlas, coverage = project_views(mesh, texels_of(mesh, job.atlas_size), taken, seen)
    projected = time.perf_counter()
    camera = Camera.named(job.preview_direction, job.preview_size, job.front_rotation_offset)
    preview = render_textured(mesh, atlas, camera)
    seconds = {
        "uvs": unwrapped - started,
        "paint": painted - unwrapped,
        "project": projected - painted,
        "preview": time.perf_counter() - projected,
    }
    return TextureResult(atlas, preview, original, generated, names, coverage, seconds)
