"""Tables for image inputs and outputs beyond text-to-image: uploaded init images and variations
(upscale, unzoom, no-background). On the same `Base` as store/models.py, so one metadata holds them all.

Foreign keys cascade: deleting a user removes their init images and variations; deleting a generation
removes its images and, through them, every variation made from them (files live under the same prefixes,
see store/files.py, so the service that deletes the rows removes the files with one prefix delete)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, JobColumns, utcnow


class InitImage(Base):
    """An uploaded image. Reserved by POST /init-image (status RESERVED, no file), filled by the presigned
    upload (status UPLOADED, file written). Only UPLOADED rows can feed a generation."""

    __tablename__ = "init_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    extension: Mapped[str] = mapped_column(String(8))  # png | jpg | jpeg | webp, lower case
    file_key: Mapped[str] = mapped_column(Text, unique=True)
    token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="RESERVED")
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ImageVariation(JobColumns, Base):
    """One variation job and its result. `generated_image_id` is the root generated image (a variation of a
    variation keeps the root, so it is listed under the same image); `source_variation_id` is set when the
    input was an earlier variation's output. A universal upscale of an uploaded init image has no generation:
    `init_image_id` names its input (set to NULL if the upload is deleted: the upscale is the user's own
    picture, kept until the user is deleted) and `model_id` the model that refines it; its file lives under
    the user's prefix (store/files.py), so deleting the user removes it."""

    __tablename__ = "image_variations"

    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    generation_id: Mapped[str | None] = mapped_column(
        ForeignKey("generations.id", ondelete="CASCADE"), index=True, nullable=True
    )
    generated_image_id: Mapped[str | None] = mapped_column(
        ForeignKey("generated_images.id", ondelete="CASCADE"), index=True, nullable=True
    )
    source_variation_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    init_image_id: Mapped[str | None] = mapped_column(
        ForeignKey("init_images.id", ondelete="SET NULL"), index=True, nullable=True
    )
    model_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # set when there is no generation
    # The universal upscaler's settings (multiplier, creativity, style...); NULL for the other variations.
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    transform_type: Mapped[str] = mapped_column(String(16))  # UPSCALE | UNZOOM | NOBG
    # How the result was made (e.g. "lanczos+diffusion-detail", "border-colour-key"): for the record.
    method: Mapped[str | None] = mapped_column(String(64), nullable=True)
    file_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    token: Mapped[str] = mapped_column(String(64))
    transparent: Mapped[bool] = mapped_column(Boolean, default=False)


class MotionVariation(JobColumns, Base):
    """A video upscale of a motion generation (POST /generations-video-upscale), read with
    GET /motion-variations/{id}. Its MP4 lives under the generation's prefix: deleted with it."""

    __tablename__ = "motion_variations"

    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    generated_image_id: Mapped[str] = mapped_column(ForeignKey("generated_images.id", ondelete="CASCADE"))
    transform_type: Mapped[str] = mapped_column(String(16), default="UPSCALE")
    resolution: Mapped[str] = mapped_column(String(20))  # RESOLUTION_720
    file_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    token: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
