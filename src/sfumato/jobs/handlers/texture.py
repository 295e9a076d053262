"""Texture generations: the work of one texture job, on the long lane. The mesh is rendered from six sides
(or only the preview side) by engine/texture; each rendering starts an image-to-image picture on the job's
model (the prompt, seed + view index); the pictures are projected onto the mesh's UV atlas. Written under the
texture's prefix: albedo.png (the atlas), preview.png (the textured mesh from the preview side) and, when
the mesh had no usable UVs, mesh.obj + mesh.mtl (the mesh with the UVs the atlas follows)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Protocol

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.engine.control import ControlInput, controlnet_folder
from sfumato.engine.texture.mesh import MeshLimits, load_mesh, write_obj
from sfumato.engine.texture.pipeline import Guide, TextureJob, texture_mesh
from sfumato.engine.texture.unwrap import UnwrapFailed
from sfumato.engine.types import GenerateRequest, GenerateResult, ProgressCallback
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.three_d import ModelAsset, TextureGeneration, texture_prefix

KIND = "texture"
METHOD = "img2img-from-shading"
DEPTH_METHOD = "depth-controlnet+img2img"  # when the model has a depth ControlNet installed
MESH_DELETED = "the model asset's mesh was deleted before the job ran; upload it again"
# The mesh was checked against the operator's limits when it was uploaded; the job reads it without them.
NO_LIMITS = MeshLimits(max_vertices=2**31, max_faces=2**31)


class TextureEngine(Protocol):
    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult: ...


class MeshMissing(Exception):
    """The asset (or its file) was deleted before the job ran."""


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class TextureHandler:
    def __init__(self, db: Database, files: FileStore, engine: TextureEngine) -> None:
        self._db = db
        self._files = files
        self._engine = engine

    def failure_reason(self, exc: Exception) -> str | None:
        if isinstance(exc, UnwrapFailed):  # the mesh needs UVs and xatlas could not make them
            return str(exc)
        return MESH_DELETED if isinstance(exc, (FileNotFoundError, MeshMissing)) else None

    def discard(self, row: TextureGeneration) -> None:
        self._files.delete_prefix(texture_prefix(row.user_id, row.model_asset_id, row.id))

    def execute(self, ctx: JobContext, row: TextureGeneration) -> str | None:
        with self._db.session() as s:
            asset = s.get(ModelAsset, row.model_asset_id)
            if asset is None or asset.status != "READY":
                raise MeshMissing()
            key, extension = asset.file_key, asset.extension
        mesh = load_mesh(ctx.get(key), extension, NO_LIMITS)
        settings = row.settings or {}
        # A depth ControlNet for the model (<model>/controlnet/depth/): the rendered depth map steers the shapes.
        depth_net = controlnet_folder(Path(row.model_path), "depth")

        def paint(guide: Guide) -> Image.Image:
            controls = (ControlInput("depth", guide.depth, depth_net, 1.0, ready=True),) if depth_net else ()
            request = GenerateRequest(
                model_path=Path(row.model_path),
                prompt=row.prompt,
                negative_prompt=row.negative_prompt,
                width=guide.shading.width,
                height=guide.shading.height,
                num_inference_steps=int(settings.get("steps", 20)),
                guidance_scale=float(settings.get("guidance", 7.0)),
                seed=row.seed + guide.index,
                init_image=guide.shading,
                strength=float(settings.get("strength", 0.8)),
                controls=controls,
            )
            return self._engine.generate(request).images[0]

        job = TextureJob(
            mesh,
            front_rotation_offset=row.front_rotation_offset,
            preview=row.preview,
            preview_direction=row.preview_direction,
            atlas_size=int(settings.get("atlas_size", 512)),
            view_size=int(settings.get("view_size", 256)),
            preview_size=int(settings.get("preview_size", 256)),
        )
        result = texture_mesh(job, paint, ctx.progress)
        ctx.check_cancelled()
        prefix = texture_prefix(row.user_id, row.model_asset_id, row.id)
        albedo_key, preview_key = f"{prefix}albedo.png", f"{prefix}preview.png"
        ctx.put(albedo_key, _png(result.atlas))
        ctx.put(preview_key, _png(result.preview))
        mesh_key = material_key = None
        if result.uvs_generated:
            obj, mtl = write_obj(result.mesh, "mesh.mtl", "albedo.png")
            mesh_key, material_key = f"{prefix}mesh.obj", f"{prefix}mesh.mtl"
            ctx.put(mesh_key, obj)
            ctx.put(material_key, mtl)
        images = [{"id": str(uuid.uuid4()), "type": "ALBEDO", "name": "albedo.png", "key": albedo_key}]

        def record(s: Session, current: TextureGeneration) -> None:
            current.images, current.preview_key = images, preview_key
            current.mesh_key, current.material_key = mesh_key, material_key
            current.method = DEPTH_METHOD if depth_net else METHOD

        ctx.complete(record)
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
        method = DEPTH_METHOD if depth_net else METHOD
        return f" ({len(result.views)} views, {method}, coverage {result.coverage:.0%}, {timing})"


def texture_kind(
    db: Database, files: FileStore, engine: TextureEngine, finish_hooks: tuple[FinishHook, ...] = ()
) -> JobKindSpec:
    return JobKindSpec(
        name=KIND,
        table=TextureGeneration,
        handler=TextureHandler(db, files, engine),
        model_of=ModelOf(TextureGeneration.model_id),
        lane=Lane.LONG,
        finish_hooks=finish_hooks,
    )
