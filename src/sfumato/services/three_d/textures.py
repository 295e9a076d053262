"""Texture generations: paint a texture for one of the user's model assets (an async job of kind "texture",
run by jobs/handlers/texture.py). Every accepted field acts: `prompt`/`negative_prompt` guide the pictures,
`seed` fixes them (view i uses seed + i), `front_rotation_offset` turns the cameras about the vertical axis,
`preview` paints only the preview view, `preview_direction` picks the side of the preview (and of that one
view), `sd_version` must name the texture model's own version (this server textures with one model)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.engine.texture.views import ALL_VIEWS
from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher
from sfumato.services.catalog import Catalog
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import texture_price
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.limits import check_queue_cap
from sfumato.services.three_d.assets import ModelAssets
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.three_d import TextureGeneration, texture_prefix

KIND = "texture"
PROMPT_MAX = 1500  # Leonardo's prompt limit
SEED_MAX = 9_999_999_998
ROTATION_LIMIT = 360
PREVIEW_DIRECTIONS = ALL_VIEWS  # front, right, back, left, top, bottom
STRENGTH = 0.8  # image-to-image strength from the rendered shading: the mesh's light and shape stay faintly
MAX_PENDING_PER_USER = 200
# The files a texture generation serves (name in the URL -> media type).
FILES = {"albedo.png": "image/png", "preview.png": "image/png", "mesh.obj": "model/obj", "mesh.mtl": "model/mtl"}


@dataclass(frozen=True)
class TextureSizes:
    atlas: int = 512
    view: int = 256
    preview: int = 256


@dataclass(frozen=True)
class TextureParams:
    model_asset_id: str | None
    prompt: str | None
    negative_prompt: str | None = None
    front_rotation_offset: int | None = None
    preview: bool | None = None
    preview_direction: str | None = None
    seed: int | None = None
    sd_version: str | None = None


@dataclass(frozen=True)
class TextureImage:
    id: str
    type: str
    name: str  # file name under the generation's URL folder


@dataclass(frozen=True)
class TextureView:
    id: str
    model_asset_id: str
    created_at: datetime
    status: str
    prompt: str
    negative_prompt: str | None
    seed: int
    token: str
    preview: bool
    preview_direction: str
    front_rotation_offset: int
    failure_reason: str | None = None
    method: str | None = None  # how the views were painted (jobs/handlers/texture.py), once COMPLETE
    images: list[TextureImage] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # file name -> file key, once COMPLETE


def _view(r: TextureGeneration) -> TextureView:
    done = r.status == JobStatus.COMPLETE
    images = [TextureImage(i["id"], i["type"], i["name"]) for i in (r.images or [])] if done else []
    keys = {i.name: k["key"] for i, k in zip(images, r.images or [], strict=False)} if done else {}
    if done:
        keys.update({n: k for n, k in (("preview.png", r.preview_key), ("mesh.obj", r.mesh_key),
                                       ("mesh.mtl", r.material_key)) if k})  # fmt: skip
    return TextureView(
        r.id, r.model_asset_id, r.created_at, r.status, r.prompt, r.negative_prompt, r.seed, r.token, r.preview,
        r.preview_direction, r.front_rotation_offset, r.failure_reason, r.method, images, keys,
    )  # fmt: skip


class Textures:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        catalog: Catalog,
        dispatcher: Dispatcher,
        assets: ModelAssets,
        model_id: str | None = None,
        sizes: TextureSizes | None = None,
    ) -> None:
        self._db = db
        self._files = files
        self._catalog = catalog
        self._dispatcher = dispatcher
        self._assets = assets
        self.model_id = model_id  # None: the default model
        self.sizes = sizes or TextureSizes()
        self.max_pending = MAX_PENDING_PER_USER
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE

    def create(self, user_id: str, api_key_id: str | None, p: TextureParams) -> str:
        if not p.model_asset_id:
            raise InvalidRequest(
                'expecting a value for non-nullable variable: "modelAssetId"; send the id POST /models-3d/upload '
                "returned (uploadModelAsset.modelId), after uploading the mesh to its modelUrl",
                field="modelAssetId",
            )
        prompt = (p.prompt or "").strip()
        if not prompt:
            raise InvalidRequest('expecting a value for non-nullable variable: "prompt"; describe the texture, '
                                 'e.g. "rusty red metal"', field="prompt")  # fmt: skip
        if len(prompt) > PROMPT_MAX:
            raise InvalidRequest(f"Invalid prompt, maximum length of {PROMPT_MAX} characters exceeded.", field="prompt")
        rotation = p.front_rotation_offset or 0
        if not -ROTATION_LIMIT <= rotation <= ROTATION_LIMIT:
            raise InvalidRequest(
                f"front_rotation_offset is degrees about the vertical axis, from -{ROTATION_LIMIT} to "
                f"{ROTATION_LIMIT}; got {rotation}",
                field="front_rotation_offset",
            )
        direction = preview_direction(p.preview_direction)
        if p.seed is not None and not 0 <= p.seed <= SEED_MAX:
            raise InvalidRequest(f"seed must be from 0 to {SEED_MAX}, got {p.seed}", field="seed")
        try:
            model = self._catalog.resolve_for_generation(self.model_id)
        except InvalidRequest as exc:  # the operator's SFUMATO_TEXTURE_MODEL_ID names no image model here
            raise InvalidRequest(
                f"this server's texture model cannot paint: {exc.message.split(';')[0]}; the operator sets "
                "SFUMATO_TEXTURE_MODEL_ID to an image model of GET /platformModels (or leaves it unset)"
            ) from None
        if (p.sd_version or "").strip() and (p.sd_version or "").strip().upper() != model.sd_version.upper():
            raise InvalidRequest(
                f"sd_version: this server paints textures with {model.name} ({model.sd_version}); send sd_version "
                f"{model.sd_version!r} or leave it out, not {p.sd_version!r}",
                field="sd_version",
            )
        steps = model.recommended_steps or 20
        with self._db.session() as s:
            asset = self._assets.owned(s, user_id, p.model_asset_id, field="modelAssetId")
            if asset.status != "READY":
                why = f" (the last upload was refused: {asset.refusal})" if asset.refusal else ""
                raise InvalidRequest(
                    f"model asset {asset.id} has no mesh yet{why}; POST the file to the modelUrl of "
                    "POST /models-3d/upload with its modelFields first",
                    field="modelAssetId",
                )
            row = TextureGeneration(
                id=str(uuid.uuid4()),
                user_id=user_id,
                api_key_id=api_key_id,
                model_asset_id=asset.id,
                model_id=model.id,
                model_path=str(model.path),
                prompt=prompt,
                negative_prompt=(p.negative_prompt or "").strip() or None,
                seed=p.seed if p.seed is not None else secrets.randbelow(2**31),
                front_rotation_offset=rotation,
                preview=bool(p.preview),
                preview_direction=direction,
                sd_version=model.sd_version,
                token=secrets.token_urlsafe(24),
                status=JobStatus.PENDING,
                settings={
                    "atlas_size": self.sizes.atlas,
                    "view_size": self.sizes.view,
                    "preview_size": self.sizes.preview,
                    "steps": steps,
                    "guidance": model.recommended_guidance or 7.0,
                    "strength": STRENGTH,
                },
            )
            self._insert_job(s, user_id, row)
        self._dispatcher.submit(KIND, row.id)
        return row.id

    def _insert_job(self, s: Session, user_id: str, row: TextureGeneration) -> None:
        """The one place a texture job row is inserted, and charged (TEXTURE_GENERATION: full or preview), in the
        caller's transaction: a balance that cannot pay refuses it (402) and nothing is inserted."""
        check_queue_cap(s, user_id, self.max_pending)
        s.add(row)
        self.credits.charge(s, user_id, KIND, row.id, texture_price(self.credits.table, row.preview))

    def _owned(self, s: Session, user_id: str, texture_id: str) -> TextureGeneration:
        row = s.get(TextureGeneration, texture_id)
        if row is not None and row.user_id == user_id:
            return row
        raise NotFound(f"texture generation {texture_id} not found")

    def get(self, user_id: str, texture_id: str) -> TextureView:
        with self._db.session() as s:
            return _view(self._owned(s, user_id, texture_id))

    def list_for_asset(self, user_id: str, asset_id: str, offset: int = 0, limit: int = 10) -> list[TextureView]:
        if offset < 0 or limit < 0:
            raise InvalidRequest("offset and limit must be 0 or more", field="offset" if offset < 0 else "limit")
        with self._db.session() as s:
            asset = self._assets.owned(s, user_id, asset_id, field="modelId")
            rows = s.scalars(
                select(TextureGeneration)
                .where(TextureGeneration.model_asset_id == asset.id)
                .order_by(TextureGeneration.created_at.desc(), TextureGeneration.id)
                .offset(offset)
                .limit(min(limit, 1000))
            ).all()
            return [_view(r) for r in rows]

    def delete(self, user_id: str, texture_id: str) -> None:
        with self._db.session() as s:
            row = self._owned(s, user_id, texture_id)
            prefix = texture_prefix(row.user_id, row.model_asset_id, row.id)
            Credits.forget_jobs(s, [row.id])  # its charge stays (the operator's audit), no longer naming it
            s.delete(row)
        self._files.delete_prefix(prefix)

    def file(self, token: str, filename: str) -> tuple[Path, str]:
        """A texture generation's file behind a /cdn URL (local disk): its path and media type, or NotFound."""
        with self._db.session() as s:
            row = s.scalars(select(TextureGeneration).where(TextureGeneration.token == token)).first()
            key = _view(row).keys.get(filename) if row is not None else None
        path = self._files.local_path(key) if key else None
        if path is None:
            raise NotFound("no such file")
        return path, FILES[filename]


def preview_direction(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "front"
    if isinstance(value, str) and value.strip().lower() in PREVIEW_DIRECTIONS:
        return value.strip().lower()
    raise InvalidRequest(
        f"preview_direction must be one of {', '.join(PREVIEW_DIRECTIONS)} (the side the preview render looks "
        f"from; default front), got {value!r}",
        field="preview_direction",
    )
