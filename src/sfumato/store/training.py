"""Tables for custom models and elements: datasets and their images, and training jobs (one kind of job for both
custom models and user elements). On the same `Base` as store/models.py.

A custom model's wire id is its training's id (a UUID); an element's wire id is an integer (Leonardo's
`userLoraId`), so elements get a row in `element_numbers`, whose autoincrement key is that integer on SQLite
and PostgreSQL alike. Files live under the user's prefix (store/files.py): deleted with the user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, JobColumns, utcnow


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DatasetImage(Base):
    """An image of a dataset: reserved by POST /datasets/{id}/upload and filled by the presigned upload (like an
    init image), or copied from a generated image (POST /datasets/{id}/upload/gen, UPLOADED at once)."""

    __tablename__ = "dataset_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    extension: Mapped[str] = mapped_column(String(8))
    file_key: Mapped[str] = mapped_column(Text, unique=True)
    token: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="RESERVED")  # RESERVED | UPLOADED
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # copied from this generated image
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Training(JobColumns, Base):
    """A training job: a custom model (`target` "model", POST /models) or a user element (`target` "element",
    POST /elements). Both train a LoRA on a base model; a custom model's is applied at weight 1 whenever its id
    is the generation's modelId, an element's at the weight a request asks for."""

    __tablename__ = "trainings"

    target: Mapped[str] = mapped_column(String(16))  # model | element
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    dataset_id: Mapped[str] = mapped_column(String(36))
    # The dataset's images when the training was asked for (keys under the dataset's prefix): the dataset
    # cannot be deleted while a training that reads them is PENDING (services/datasets.py).
    image_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the user sent, echoed as instancePrompt, and what stands for it in captions and prompts: a reserved
    # token of the base model's tokenizer (e.g. "<s3>"), the instance prompt itself, or None (a style element).
    instance_prompt: Mapped[str] = mapped_column(Text, default="")
    instance_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base_model_id: Mapped[str] = mapped_column(String(36))
    base_model_path: Mapped[str] = mapped_column(Text)
    # Requested values, echoed on the wire (custom models: model_type, nsfw, resolution, sd_version, strength;
    # elements: focus, train_text_encoder, num_train_epochs, learning_rate, resolution, sd_version).
    sd_version: Mapped[str] = mapped_column(String(40))
    model_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    strength: Mapped[str | None] = mapped_column(String(16), nullable=True)
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[int] = mapped_column(Integer)
    focus: Mapped[str | None] = mapped_column(String(16), nullable=True)
    train_text_encoder: Mapped[bool] = mapped_column(Boolean, default=False)
    num_train_epochs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    learning_rate: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The settings the job runs with (steps, rank, learning rate on this base...): written when it starts (the recipe
    # is the engine's, jobs/handlers/training.py), empty while it waits.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Progress of the running job (the CLI and API show "step i of n"), and the result: the LoRA file's key.
    step: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    adapter_key: Mapped[str | None] = mapped_column(Text, nullable=True)


# Element numbers fit PostgreSQL's `integer` (and SQLite's 64-bit one): a larger number names no element, and must
# not reach a query (the drivers raise on it).
ELEMENT_NUMBER_MAX = 2**31 - 1


class ElementNumber(Base):
    """The integer id of a user element (Leonardo's `userLoraId`)."""

    __tablename__ = "element_numbers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    training_id: Mapped[str] = mapped_column(ForeignKey("trainings.id", ondelete="CASCADE"), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
