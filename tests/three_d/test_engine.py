"""engine/texture without a server or a model: the rasterizer's coverage, depth and nearest-wins, the cameras,
UV generation and projection of pictures back onto the atlas, the textured render, and the OBJ written back."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh
from PIL import Image

from sfumato.engine.texture.atlas import project_views, texels_of, with_uvs
from sfumato.engine.texture.mesh import Mesh, MeshLimits, MeshRejected, load_mesh, write_obj
from sfumato.engine.texture.pipeline import TextureJob, texture_mesh
from sfumato.engine.texture.raster import rasterize
from sfumato.engine.texture.unwrap import UnwrapFailed, generate_uvs
from sfumato.engine.texture.views import ALL_VIEWS, FRAME, Camera, guide_pictures, render_textured
from sfumato.jobs.handlers.texture import TextureHandler

COLOURS = {
    "front": (255, 0, 0),
    "right": (0, 255, 0),
    "back": (0, 0, 255),
    "left": (255, 255, 0),
    "top": (0, 255, 255),
    "bottom": (255, 0, 255),
}


def cube() -> Mesh:
    box = trimesh.creation.box()  # side 1, centred on the origin
    return Mesh(np.asarray(box.vertices, float), np.asarray(box.faces, np.int64))


def test_one_triangle_covers_half_its_square_with_barycentrics_that_sum_to_one() -> None:
    frags = rasterize(np.array([[[0, 0], [40, 0], [0, 40]]], float), np.zeros((1, 3)), 40, 40)
    assert abs(int(frags.mask.sum()) - 800) <= 40
    assert np.allclose(frags.bary[frags.mask].sum(axis=1), 1)
    assert frags.face[1, 1] == 0 and frags.face[38, 38] == -1


def test_the_nearest_triangle_wins_whatever_the_order() -> None:
    square = [[0, 0], [20, 0], [0, 20]]
    for depths in ([[5, 5, 5], [1, 1, 1]], [[1, 1, 1], [5, 5, 5]]):
        frags = rasterize(np.array([square, square], float), np.array(depths, float), 20, 20)
        near = int(np.argmin([d[0] for d in depths]))
        assert set(np.unique(frags.face[frags.mask])) == {near}
        assert np.allclose(frags.depth[frags.mask], 1)


def test_depth_of_a_known_cube_from_the_front_and_the_top() -> None:
    for name in ("front", "top"):
        camera = Camera.named(name, 64)
        frags = camera.rasterize(cube())
        # The near face is 0.5 from the centre: depth -0.5 (smaller is nearer) everywhere it is drawn.
        assert np.allclose(frags.depth[frags.mask], -0.5)
        side = 64 / (2 * FRAME)  # pixels per unit
        assert abs(int(frags.mask.sum()) - side**2) <= 2 * side, (name, frags.mask.sum())
        rows, cols = np.nonzero(frags.mask)
        assert abs(rows.mean() - 31.5) < 0.6 and abs(cols.mean() - 31.5) < 0.6  # centred


def test_front_rotation_offset_turns_the_cameras_about_the_vertical_axis() -> None:
    assert np.allclose(Camera.named("front", 8, 90).direction, Camera.named("right", 8).direction)
    assert np.allclose(Camera.named("right", 8, 90).direction, Camera.named("back", 8).direction)
    assert np.allclose(Camera.named("top", 8, 90).direction, [0, 1, 0])
    # Pixels: +X is on the right of the front view, +Y at the top.
    xy, _ = Camera.named("front", 100).project(np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    assert xy[0, 0] > 90 and xy[1, 1] < 10


def test_guide_pictures_shade_the_mesh_and_leave_the_background_grey() -> None:
    shading, depth, frags = guide_pictures(cube().normalized(), Camera.named("front", 32))
    pixels, near = np.asarray(shading), np.asarray(depth)
    assert (pixels[~frags.mask] == 127).all() and (near[~frags.mask] == 0).all()
    assert pixels[frags.mask].mean() > 150 and near[frags.mask].min() > 0


@pytest.mark.parametrize("shape", ["cube", "sphere"])
def test_each_texel_takes_the_colour_of_the_camera_that_faces_it(shape: str) -> None:
    source = (
        cube()
        if shape == "cube"
        else Mesh(
            *(
                np.asarray(a)
                for a in (
                    trimesh.creation.uv_sphere(count=[12, 12]).vertices,
                    trimesh.creation.uv_sphere(count=[12, 12]).faces,
                )
            )
        )
    )  # noqa: E501
    mesh, generated = with_uvs(source)
    assert generated and mesh.uvs is not None and mesh.uvs.min() >= 0 and mesh.uvs.max() <= 1
    mesh = mesh.normalized()
    texels = texels_of(mesh, 96)
    views = [(Camera.named(n, 64), Image.new("RGB", (64, 64), COLOURS[n])) for n in ALL_VIEWS]
    atlas, coverage = project_views(mesh, texels, views)
    assert coverage == 1.0
    pixels = np.asarray(atlas)[texels.rows, texels.cols]
    for name in ALL_VIEWS:
        facing = texels.normals @ Camera.named(name, 64).direction
        clearly = facing > 0.8  # clearly facing this camera more than any other
        assert clearly.any()
        assert (pixels[clearly] == COLOURS[name]).all(), name


def test_an_unseen_side_gets_the_mean_colour_and_islands_are_padded() -> None:
    mesh, _ = with_uvs(cube())
    mesh = mesh.normalized()
    texels = texels_of(mesh, 64)
    atlas, coverage = project_views(mesh, texels, [(Camera.named("front", 64), Image.new("RGB", (8, 8), (200, 0, 0)))])
    assert 0.1 < coverage < 0.25  # one side of six
    assert (np.asarray(atlas).reshape(-1, 3) == (200, 0, 0)).all()  # only one colour was seen: all of it is that


def test_render_textured_shows_the_atlas_colour_lit_from_the_camera() -> None:
    mesh, _ = with_uvs(cube())
    render = render_textured(mesh.normalized(), Image.new("RGB", (32, 32), (0, 0, 255)), Camera.named("front", 48))
    rgba = np.asarray(render)
    opaque = rgba[rgba[..., 3] == 255]
    assert len(opaque) > 200 and (rgba[rgba[..., 3] == 0][:, :3] == 0).all()
    assert (opaque[:, 2] > 100).all() and (opaque[:, :2] == 0).all()


def test_texture_mesh_keeps_the_mesh_coordinates_and_writes_an_obj_that_reads_back() -> None:
    big = Mesh(cube().vertices * 10 + 3, cube().faces)
    result = texture_mesh(TextureJob(big, atlas_size=32, view_size=32, preview_size=32),
                          lambda g: Image.new("RGB", (32, 32), COLOURS[g.view]))  # fmt: skip
    assert result.uvs_generated and result.views == list(ALL_VIEWS)
    assert np.allclose(result.mesh.vertices.min(axis=0), -2) and np.allclose(result.mesh.vertices.max(axis=0), 8)
    obj, mtl = write_obj(result.mesh, "mesh.mtl", "albedo.png")
    back = trimesh.load(io.BytesIO(obj), file_type="obj", process=False, maintain_order=True)
    assert len(back.faces) == 12 and np.allclose(back.visual.uv, result.mesh.uvs, atol=1e-5)
    assert b"map_Kd albedo.png" in mtl
    preview_only = texture_mesh(TextureJob(big, preview=True, preview_direction="left", atlas_size=32, view_size=32),
                                lambda g: Image.new("RGB", (32, 32), COLOURS[g.view]))  # fmt: skip
    assert preview_only.views == ["left"]


def test_load_mesh_refuses_what_it_cannot_texture() -> None:
    with pytest.raises(MeshRejected, match="faces, the most accepted is 10"):
        load_mesh(trimesh.creation.icosphere(1).export(file_type="obj").encode(), "obj", MeshLimits(1000, 10))
    with pytest.raises(MeshRejected, match="vertices, the most accepted is 5"):
        load_mesh(trimesh.creation.box().export(file_type="obj").encode(), "obj", MeshLimits(5, 1000))
    with pytest.raises(MeshRejected, match="no extent|degenerate|no triangles"):
        load_mesh(b"v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n", "obj")
    with pytest.raises(MeshRejected, match="could not be read as GLB"):
        load_mesh(b"glTF not really", "glb")


def test_an_unwrapper_crash_is_a_refusal_not_a_dead_worker() -> None:
    """xatlas 0.0.11 dies with SIGSEGV on this icosphere; in its child process that is a reason, and this
    process (a worker, in production) lives on."""
    sphere = trimesh.creation.icosphere(subdivisions=6)
    with pytest.raises(UnwrapFailed, match="crashed .* upload the mesh with its own UVs"):
        generate_uvs(np.asarray(sphere.vertices), np.asarray(sphere.faces))
    reason = TextureHandler(None, None, None).failure_reason(UnwrapFailed("the UV unwrapper failed"))  # type: ignore[arg-type]
    assert reason == "the UV unwrapper failed"
