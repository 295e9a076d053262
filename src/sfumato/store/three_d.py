"""Tables of 3D model assets (uploaded meshes) and their texture generations. On the same `Base` as
store/models.py. Foreign keys cascade: deleting a user removes their assets, deleting an asset removes its
texture generations; their files live under the asset's prefix (store/files.py's user prefix), so one prefix
delete removes them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, JobColumns, utcnow


def model_asset_prefix(user_id: str, asset_id: str) -> str:
    return f"users/{user_id}/models-3d/{asset_id}/"


def texture_prefix(user_id: str, asset_id: str, texture_id: str) -> str:
    return f"{model_asset_prefix(user_id, asset_id)}textures/{texture_id}/"


class ModelAsset(Base):
    """An uploaded mesh. Reserved by POST /models-3d/upload (status RESERVED, no file); the presigned upload
    stores the file only once it parsed as a mesh within the limits (status READY). A refused upload writes
    nothing: the row stays RESERVED with the reason in `refusal`, and the same form may be used again with a
    fixed file until it expires."""

    __tablename__ = "model_assets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text, default="")
    extension: Mapped[str] = mapped_column(String(8))  # obj | glb | gltf
    file_key: Mapped[str] = mapped_column(Text, unique=True)
    token: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="RESERVED")  # RESERVED | READY
    refusal: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the last upload was refused
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    vertices: Mapped[int | None] = mapped_column(Integer, nullable=True)
    faces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_uvs: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TextureGeneration(JobColumns, Base):
    """One texture job for a model asset and its results: `images` lists the texture maps
    ([{"id", "type": "ALBEDO", "key"}]); the preview render, and the mesh with generated UVs (OBJ + MTL) when
    the asset had none, have their own keys."""

    __tablename__ = "texture_generations"

    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    model_asset_id: Mapped[str] = mapped_column(ForeignKey("model_assets.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(36))  # the image model that paints the views
    model_path: Mapped[str] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    front_rotation_offset: Mapped[int] = mapped_column(Integer, default=0)
    preview: Mapped[bool] = mapped_column(Boolean, default=False)
    preview_direction: Mapped[str] = mapped_column(String(16), default="front")
    sd_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Fixed at creation: atlas/view/preview sizes, steps, guidance, strength (services/three_d/textures.py).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    token: Mapped[str] = mapped_column(String(64), index=True)
    images: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    preview_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    mesh_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    material_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    method: Mapped[str | None] = mapped_column(String(40), nullable=True)  # how the views were painted
