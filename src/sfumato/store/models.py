"""Database tables. Ids are strings (UUID text) so a malformed id in a URL is just 'not found' on every
backend, never a type error from PostgreSQL's uuid column."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class JobColumns:
    """The columns every job table has (generations, variations, and each kind registered later): the one
    state machine in jobs/core/runner.py reads and writes only these."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="PENDING", index=True)  # jobs/core/status.py
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # Scale-out: which worker runs (or ran) the job, and when it last proved it is still on it (a lease the
    # worker's heartbeat renews); a claim by another worker waits until the lease is stale.
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When a "run it" message was last handed to the broker; None: never (the broker was down), so the
    # reaper publishes it again (jobs/republish.py).
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Set by `sfumato jobs cancel`: a running job stops at its next step, a waiting one never starts.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @declared_attr
    def user_id(cls) -> Mapped[str]:  # noqa: N805 (a declared_attr takes the class)
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


def job_tables() -> list[type[JobColumns]]:
    """Every job table of this schema (generations, variations, ...): for counts over every kind of job."""
    return sorted(
        (m.class_ for m in Base.registry.mappers if issubclass(m.class_, JobColumns)), key=lambda t: t.__name__
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    api_concurrency_slots: Mapped[int] = mapped_column(Integer, default=10)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Argon2 hash of the web app password (services/web_logins.py); None: the user signs in nowhere but the API.
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)

    keys: Mapped[list[ApiKey]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # sha256 of the secret: the secret itself is shown once and never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_hint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    webhook_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Standard Webhooks secret (whsec_...): kept because every delivery is signed with it; shown once.
    signing_secret: Mapped[str | None] = mapped_column(Text, nullable=True)

    user: Mapped[User] = relationship(back_populates="keys")


class RegisteredModel(Base):
    """A model an operator registered with `sfumato models add` (catalog JSON entries are not rows)."""

    __tablename__ = "registered_models"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Generation(JobColumns, Base):
    """An image generation, or a motion one (a video from an image): both are polled with GET /generations/{id},
    listed and deleted alike. `job_kind` is the job kind that runs the row (jobs/core/kinds.py)."""

    __tablename__ = "generations"
    # A user's page of generations, newest first, read from the index alone (no sort of all their rows).
    __table_args__ = (Index("ix_generations_user_newest", "user_id", "created_at", "id"),)

    job_kind: Mapped[str] = mapped_column(String(16), default="generation")
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    model_id: Mapped[str] = mapped_column(String(36))
    # What the job needs, fixed at creation so the worker needs no catalog: the folder, the prompt after
    # the style template, and the scheduler to force (None: the model's own).
    model_path: Mapped[str] = mapped_column(Text)
    engine_prompt: Mapped[str] = mapped_column(Text)
    engine_scheduler: Mapped[str | None] = mapped_column(String(40), nullable=True)
    prompt: Mapped[str] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    num_images: Mapped[int] = mapped_column(Integer)
    num_inference_steps: Mapped[int] = mapped_column(Integer)
    guidance_scale: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(BigInteger)  # Leonardo allows seeds up to 9999999998
    scheduler: Mapped[str] = mapped_column(String(40))
    preset_style: Mapped[str] = mapped_column(String(40))
    sd_version: Mapped[str] = mapped_column(String(40))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    tiling: Mapped[bool] = mapped_column(Boolean, default=False)
    init_strength: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Image inputs, checked by the service at creation; the job reads the files by key.
    init_image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # an uploaded init image
    init_generated_image_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # or a generated one
    init_file_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    init_strength_ignored: Mapped[float | None] = mapped_column(Float, nullable=True)  # sent without an init image
    image_prompt_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    image_prompt_file_keys: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    image_prompt_weight: Mapped[float | None] = mapped_column(Float, nullable=True)
    transparency: Mapped[str | None] = mapped_column(String(20), nullable=True)  # foreground_only | disabled
    # How the job honoured them (ip-adapter, latent-adain+colour-match; salient-model, border-colour-key).
    image_prompt_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    transparency_method: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Accepted options that change nothing here (alchemy, photo_real, prompt_magic, ...), for the record, in
    # our names (api/wire/options.py maps Leonardo's).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Motion: the image the video starts from (a generated image, a variation or an uploaded init image), the
    # strength asked for (1-10) and the frames made.
    motion_source_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    motion_source_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    motion_source_file_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    motion_strength: Mapped[int | None] = mapped_column(Integer, nullable=True)
    motion_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    motion_fps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # LoRAs applied to this generation (services/adapters.py AppliedAdapter.to_record): a custom model's, platform
    # elements and user elements, each with its file, weight and what the wire echoes in generation_elements.
    adapters: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    # ControlNets (services/control.py ControlRecord.to_record): each entry's preprocessor id, kind, image id and
    # file key, and the scale it ran at. Canvas requests (services/canvas.py): type, init/mask ids and file keys.
    controls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    canvas: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    images: Mapped[list[GeneratedImage]] = relationship(
        back_populates="generation", cascade="all, delete-orphan", order_by="GeneratedImage.index"
    )


class GeneratedImage(Base):
    __tablename__ = "generated_images"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    generation_id: Mapped[str] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    # Relative to the file store's root; the URL carries `token` so it needs no auth header. For a motion
    # generation, `file_key` is the poster (frame 0) and `video_key` the MP4.
    file_key: Mapped[str] = mapped_column(Text)
    video_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    token: Mapped[str] = mapped_column(String(64))
    nsfw: Mapped[bool] = mapped_column(Boolean, default=False)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    generation: Mapped[Generation] = relationship(back_populates="images")


class WebhookDelivery(Base):
    """The webhook outbox: one row per event, written in the transaction that finishes the job, so a
    notification exists exactly when the result does. Its id is the `webhook-id` on every attempt.
    Destination and secrets are copied from the key, so revoking the key later loses no notification."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    event_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(36), index=True)  # the generation (or job) it is about
    url: Mapped[str] = mapped_column(Text)
    auth_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    signing_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The exact JSON body, fixed at creation: every attempt sends the same bytes.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    # Attempts since the delivery was (re)queued: drives the backoff.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a pending row is due. A claim pushes it forward by a lease, so a sender that dies mid-attempt
    # leaves a row that becomes due again by itself.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by each claim; only the holder of the current lease may record the outcome.
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)


class WebhookAttempt(Base):
    """One POST of a delivery: what came back and how long it took (a short excerpt, never the whole body)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | failed
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)  # error or response excerpt, <= 500 chars


class JobEvent(Base):
    """A job's typed events (jobs/core/events.py): started, progress (throttled), log, done. Written by
    whichever worker runs the job, read by anyone (the CLI, the API's progress stream) without knowing
    which worker that was. `id` only grows, so a reader resumes after the last id it saw."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # started | progress | log | done
    step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    steps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # done: the final status
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    preview: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # a small PNG, progress only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
