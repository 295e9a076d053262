"""Meshes as plain arrays: read an uploaded file (OBJ, GLB, self-contained glTF) with trimesh, check it, and
write one back as OBJ + MTL. No torch here: the upload receiver validates with it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

# Our extension -> trimesh's file type and the Content-Type the presigned form fixes.
MESH_FORMATS: dict[str, tuple[str, str]] = {
    "obj": ("obj", "model/obj"),
    "glb": ("glb", "model/gltf-binary"),
    "gltf": ("gltf", "model/gltf+json"),
}


class MeshRejected(ValueError):
    """The file is not a mesh we can texture; the message says why, in words the uploader can act on."""


@dataclass(frozen=True)
class MeshLimits:
    max_vertices: int = 200_000
    max_faces: int = 200_000


@dataclass(frozen=True)
class Mesh:
    """Triangles: `vertices` (V, 3) float64, `faces` (F, 3) int64 into them, `uvs` (V, 2) per vertex or None."""

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray | None = None

    @property
    def face_normals(self) -> np.ndarray:
        tri = self.vertices[self.faces]
        n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(n, axis=1, keepdims=True)
        return n / np.where(length > 0, length, 1.0)

    def normalized(self) -> Mesh:
        """Centred on its bounding box and scaled to fit the unit sphere (what the cameras frame)."""
        low, high = self.vertices.min(axis=0), self.vertices.max(axis=0)
        centred = self.vertices - (low + high) / 2
        radius = float(np.linalg.norm(centred, axis=1).max()) or 1.0
        return Mesh(centred / radius, self.faces, self.uvs)


def load_mesh(data: bytes, extension: str, limits: MeshLimits | None = None) -> Mesh:
    """The mesh in `data`, triangulated, or MeshRejected saying what is wrong (empty, not a mesh, over a limit,
    broken indices, non-finite coordinates)."""
    import trimesh  # imported here: only uploads and texture jobs need it

    limits = limits or MeshLimits()
    if extension not in MESH_FORMATS:
        raise MeshRejected(f"unknown mesh format {extension!r}; send obj, glb or gltf")
    if not data.strip():
        raise MeshRejected("the file is empty; send the mesh bytes as `file`")
    file_type = MESH_FORMATS[extension][0]
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=file_type, process=False, maintain_order=True)
    except Exception as exc:  # trimesh raises many kinds for broken files
        hint = " (a .gltf must embed its buffers as data: URIs; or send .glb)" if extension == "gltf" else ""
        raise MeshRejected(
            f"the file could not be read as {extension.upper()}{hint}: {type(exc).__name__}: {exc}"
        ) from None
    meshes = _triangle_meshes(loaded)
    if not meshes:
        kind = type(loaded).__name__
        raise MeshRejected(f"the file holds no triangles (read as {kind}): upload a surface mesh with faces")
    vertex_count = sum(len(m.vertices) for m in meshes)
    face_count = sum(len(m.faces) for m in meshes)
    if vertex_count > limits.max_vertices:
        raise MeshRejected(
            f"the mesh has {vertex_count} vertices, the most accepted is {limits.max_vertices}; decimate it"
        )
    if face_count > limits.max_faces:
        raise MeshRejected(f"the mesh has {face_count} faces, the most accepted is {limits.max_faces}; decimate it")
    return _combine(meshes)


def _triangle_meshes(loaded: object) -> list[Any]:
    import trimesh

    if isinstance(loaded, trimesh.Scene):
        parts: list[Any] = []
        for name in loaded.graph.nodes_geometry:
            transform, geometry_name = loaded.graph[name]
            geometry = loaded.geometry[geometry_name]
            if isinstance(geometry, trimesh.Trimesh) and len(geometry.faces):
                copy = geometry.copy()
                copy.apply_transform(transform)
                parts.append(copy)
        return parts
    if isinstance(loaded, trimesh.Trimesh) and len(loaded.faces):
        return [loaded]
    return []


def _combine(meshes: list) -> Mesh:
    vertices, faces, uvs = [], [], []
    offset = 0
    for m in meshes:
        v = np.asarray(m.vertices, dtype=np.float64)
        f = np.asarray(m.faces, dtype=np.int64)
        if f.ndim != 2 or f.shape[1] != 3 or f.min() < 0 or f.max() >= len(v):
            raise MeshRejected("the mesh's faces point at vertices that do not exist")
        uv = getattr(getattr(m, "visual", None), "uv", None)
        uvs.append(np.asarray(uv, dtype=np.float64) if uv is not None and len(uv) == len(v) else None)
        vertices.append(v)
        faces.append(f + offset)
        offset += len(v)
    v_all, f_all = np.concatenate(vertices), np.concatenate(faces)
    if not np.isfinite(v_all).all():
        raise MeshRejected("the mesh has vertices that are not finite numbers (NaN or infinity)")
    extent = v_all.max(axis=0) - v_all.min(axis=0)
    if float(extent.max()) <= 0:
        raise MeshRejected("the mesh has no extent (every vertex is at the same point)")
    tri = v_all[f_all]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    if float(area.max()) <= 0:
        raise MeshRejected("every face of the mesh is degenerate (zero area)")
    uv_all: np.ndarray | None = (
        np.concatenate([u for u in uvs if u is not None]) if all(u is not None for u in uvs) else None
    )
    if uv_all is not None and not np.isfinite(uv_all).all():
        uv_all = None
    return Mesh(v_all, f_all, uv_all)


def write_obj(mesh: Mesh, material_file: str, texture_file: str) -> tuple[bytes, bytes]:
    """The mesh as OBJ (positions, UVs, faces `v/vt`) and its MTL, whose diffuse map is `texture_file`."""
    if mesh.uvs is None:
        raise ValueError("write_obj needs a mesh with UVs")
    out = io.StringIO()
    out.write("# written by Sfumato\n")
    out.write(f"mtllib {material_file}\nusemtl sfumato_texture\n")
    np.savetxt(out, mesh.vertices, fmt="v %.6f %.6f %.6f")
    np.savetxt(out, mesh.uvs, fmt="vt %.6f %.6f")
    one_based = mesh.faces + 1
    np.savetxt(out, np.repeat(one_based, 2, axis=1), fmt="f %d/%d %d/%d %d/%d")
    material = (
        "# written by Sfumato\nnewmtl sfumato_texture\nKa 1.000 1.000 1.000\nKd 1.000 1.000 1.000\n"
        f"Ks 0.000 0.000 0.000\nd 1.0\nillum 1\nmap_Kd {texture_file}\n"
    )
    return out.getvalue().encode(), material.encode()
