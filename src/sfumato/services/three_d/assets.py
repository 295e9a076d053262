"""3D model assets: an uploaded mesh, per user. Uploading works like /init-image (a presigned S3-style POST
form, emulated: services/uploads.py's signed policy), always to our own receiver, because the file must be
parsed before it is kept, whatever the file store: `receive` checks the form, then parses the mesh with
trimesh (size, vertex and face limits, non-empty, real triangles) and writes the file only when it passed.
A refused upload stores nothing; the asset stays RESERVED with the reason (GET shows it), and the same form
may be posted again with a fixed file until it expires."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.engine.texture.mesh import MESH_FORMATS, MeshLimits, MeshRejected, load_mesh
from sfumato.services.credits import Credits
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.image_inputs import classify_id
from sfumato.services.uploads import Reservation, UploadPolicy, UploadRefused
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.three_d import ModelAsset, TextureGeneration, model_asset_prefix

UPLOAD_CALL = "POST /models-3d/upload"
NAME_MAX = 200


@dataclass(frozen=True)
class AssetLimits:
    max_bytes: int = 50 * 1024 * 1024
    max_vertices: int = 200_000
    max_faces: int = 200_000

    @property
    def mesh(self) -> MeshLimits:
        return MeshLimits(self.max_vertices, self.max_faces)


@dataclass(frozen=True)
class ModelAssetView:
    id: str
    user_id: str
    name: str
    extension: str
    status: str
    token: str
    file_key: str
    created_at: datetime
    updated_at: datetime
    refusal: str | None = None
    vertices: int | None = None
    faces: int | None = None
    has_uvs: bool | None = None

    @property
    def file_name(self) -> str:
        return f"{self.id}.{self.extension}"


def _view(r: ModelAsset) -> ModelAssetView:
    return ModelAssetView(
        r.id, r.user_id, r.name, r.extension, r.status, r.token, r.file_key, r.created_at, r.updated_at,
        r.refusal, r.vertices, r.faces, r.has_uvs,
    )  # fmt: skip


def model_extension(value: object) -> str:
    """`modelExtension` as we store it (obj, glb, gltf), or a 400 that says what to send."""
    example = 'send {"modelExtension": "obj"} (obj, glb or gltf)'
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRequest(f'expecting a value for non-nullable variable: "modelExtension"; {example}',
                             field="modelExtension")  # fmt: skip
    if not isinstance(value, str):
        raise InvalidRequest(f"modelExtension must be a string, got {value!r}; {example}", field="modelExtension")
    ext = value.strip().lower()
    if ext.startswith(".") and ext[1:] in MESH_FORMATS:
        raise InvalidRequest(f'modelExtension is the extension without the dot: send "{ext[1:]}", not "{value}"',
                             field="modelExtension")  # fmt: skip
    if "." in ext or "/" in ext or "\\" in ext:
        raise InvalidRequest(
            f"modelExtension takes the extension only, not a file name or path like {value!r}; {example}, then "
            "POST the file to the answer's modelUrl with its modelFields",
            field="modelExtension",
        )
    if ext not in MESH_FORMATS:
        raise InvalidRequest(f"modelExtension must be obj, glb or gltf, got {value!r}", field="modelExtension")
    return ext


class ModelAssets:
    def __init__(self, db: Database, files: FileStore, policy: UploadPolicy, limits: AssetLimits) -> None:
        self._db = db
        self._files = files
        self.policy = policy  # its max_bytes is limits.max_bytes (the composition root builds it so)
        self.limits = limits

    def reserve(self, user_id: str, name: object, extension: object) -> Reservation:
        ext = model_extension(extension)
        if name is not None and not isinstance(name, str):
            raise InvalidRequest(f"name must be a string, got {name!r}", field="name")
        label = (name or "").strip()
        if len(label) > NAME_MAX:
            raise InvalidRequest(f"name is {len(label)} characters, the most is {NAME_MAX}", field="name")
        asset_id = str(uuid.uuid4())
        key = f"{model_asset_prefix(user_id, asset_id)}mesh.{ext}"
        now = datetime.now(UTC)
        with self._db.session() as s:
            s.add(
                ModelAsset(
                    id=asset_id,
                    user_id=user_id,
                    name=label,
                    extension=ext,
                    file_key=key,
                    token=secrets.token_urlsafe(24),
                    status="RESERVED",
                    created_at=now,
                    updated_at=now,
                )  # fmt: skip
            )
        return Reservation(asset_id, key, self.policy.fields(key, MESH_FORMATS[ext][1], now))

    def receive(self, form: Mapping[str, str], data: bytes) -> str:
        """Check the signed form, then parse the mesh, then write; returns the asset id. Nothing is written
        unless every check passed."""
        try:
            key = self.policy.verify(form, len(data), datetime.now(UTC))
        except UploadRefused as exc:
            exc.message = exc.message.replace("POST /init-image", UPLOAD_CALL).replace("an image", "a mesh")
            exc.message = exc.message.replace("image bytes", "mesh bytes").replace("smaller image", "smaller mesh")
            raise
        with self._db.session() as s:
            row = s.scalars(select(ModelAsset).where(ModelAsset.file_key == key)).one_or_none()
            if row is None:
                raise UploadRefused(f"NoSuchUpload: this model asset was deleted; call {UPLOAD_CALL} again", 404,
                                    "not-found")  # fmt: skip
            if row.status != "RESERVED":
                raise UploadRefused(f"this model asset was already uploaded; call {UPLOAD_CALL} for another one")
            asset_id, extension = row.id, row.extension
        try:
            mesh = load_mesh(data, extension, self.limits.mesh)
        except MeshRejected as exc:
            reason = f"the mesh was refused: {exc}"
            with self._db.session() as s:
                found = s.get(ModelAsset, asset_id)
                if found is not None:
                    found.refusal = reason
            raise UploadRefused(
                f"{reason}. Nothing was kept; POST a fixed file with the same form (it lasts "
                f"{int(self.policy.ttl.total_seconds())} seconds) or call {UPLOAD_CALL} again"
            ) from None
        with self._db.session() as s:
            # Row lock (PostgreSQL): of two posts of one form, the second waits, then finds it uploaded.
            row = s.get(ModelAsset, asset_id, with_for_update=True)
            if row is None or row.status != "RESERVED":
                raise UploadRefused(f"this model asset was deleted or uploaded meanwhile; call {UPLOAD_CALL}")
            self._files.put(key, data)
            try:
                row.status, row.refusal, row.size_bytes = "READY", None, len(data)
                row.vertices, row.faces, row.has_uvs = len(mesh.vertices), len(mesh.faces), mesh.uvs is not None
                row.uploaded_at = row.updated_at = datetime.now(UTC)
                s.flush()
            except BaseException:
                self._files.delete(key)
                raise
        return asset_id

    def owned(self, s: Session, user_id: str, asset_id: str, field: str = "id") -> ModelAsset:
        """The caller's asset; another user's is 'not found', exactly as a missing one. A wrong kind of id
        of the caller's own gets a 400 that says which id belongs here."""
        row = s.get(ModelAsset, asset_id) if isinstance(asset_id, str) else None
        if row is not None and row.user_id == user_id:
            return row
        texture = s.get(TextureGeneration, asset_id) if isinstance(asset_id, str) else None
        if texture is not None and texture.user_id == user_id:
            raise InvalidRequest(
                f"{asset_id} is a texture generation id, not a model asset id; send the id POST /models-3d/upload "
                "returned (uploadModelAsset.modelId), e.g. GET /models-3d/user/{userId} lists them",
                field=field,
            )
        kind = classify_id(s, user_id, asset_id) if isinstance(asset_id, str) else "unknown"
        if kind != "unknown":
            raise InvalidRequest(
                f"{asset_id} is {'an' if kind[0] in 'aeiou' else 'a'} {kind.replace('_', ' ')} id, not a model asset "
                "id; send the id POST /models-3d/upload returned (uploadModelAsset.modelId)",
                field=field,
            )
        raise NotFound(f"model asset {asset_id} not found")

    def get(self, user_id: str, asset_id: str) -> ModelAssetView:
        with self._db.session() as s:
            return _view(self.owned(s, user_id, asset_id))

    def list_for_user(self, user_id: str, offset: int = 0, limit: int = 10) -> list[ModelAssetView]:
        if offset < 0 or limit < 0:
            raise InvalidRequest("offset and limit must be 0 or more", field="offset" if offset < 0 else "limit")
        with self._db.session() as s:
            rows = s.scalars(
                select(ModelAsset)
                .where(ModelAsset.user_id == user_id)
                .order_by(ModelAsset.created_at.desc(), ModelAsset.id)
                .offset(offset)
                .limit(min(limit, 1000))
            ).all()
            return [_view(r) for r in rows]

    def delete(self, user_id: str, asset_id: str) -> None:
        """The asset, its texture generations (rows cascade) and every file of theirs (one prefix)."""
        with self._db.session() as s:
            row = self.owned(s, user_id, asset_id)
            textures = s.scalars(select(TextureGeneration).where(TextureGeneration.model_asset_id == row.id)).all()
            Credits.forget_jobs(s, [t.id for t in textures])  # their charges stay, no longer naming them
            for texture in textures:
                s.delete(texture)
            s.delete(row)
        self._files.delete_prefix(model_asset_prefix(user_id, asset_id))

    def file(self, token: str, filename: str) -> tuple[Path, str]:
        """The uploaded mesh behind a /cdn URL (local disk): its path and media type, or NotFound."""
        with self._db.session() as s:
            row = s.scalars(select(ModelAsset).where(ModelAsset.token == token)).first()
            if row is None or row.status != "READY" or filename != f"{row.id}.{row.extension}":
                raise NotFound("no such file")
            key, media_type = row.file_key, MESH_FORMATS[row.extension][1]
        path = self._files.local_path(key)
        if path is None:
            raise NotFound("no such file")
        return path, media_type
