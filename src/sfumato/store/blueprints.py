"""Blueprint executions and their steps (services/blueprints). Blueprints themselves are files (built in, or the
operator's folder), not rows: an execution records the version it ran and the plan it was given, frozen at
creation, so editing a file never changes a running execution.

A step is one node of the plan. A node that makes a job (a generation, a variation, a motion generation) links
its job row by id; the runner moves the step when the job is final (services/blueprints/runner.py). Everything
cascades with the user; a step's job link is cleared if the user deletes that generation or variation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, utcnow


class BlueprintExecution(Base):
    __tablename__ = "blueprint_executions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # its jobs' webhooks go there
    blueprint_id: Mapped[str] = mapped_column(String(36))
    blueprint_version_id: Mapped[str] = mapped_column(String(36))
    # PENDING (accepted) -> QUEUED (a step's job is submitted) -> COMPLETED | FAILED (Leonardo's names).
    status: Mapped[str] = mapped_column(String(16), default="PENDING", index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    # input.nodeInputs as sent (checked): [{nodeId, settingName, value}], and input.collectionIds.
    inputs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    collection_ids: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class BlueprintStep(Base):
    __tablename__ = "blueprint_steps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("blueprint_executions.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # run order (a topological order of the graph)
    node_id: Mapped[str] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(40))
    # The node's settings after the overrides (prompt with its variables filled in, ...).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_node_id: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the node whose image it takes
    # WAITING (no job yet) -> RUNNING (its job is submitted) -> COMPLETE | FAILED.
    status: Mapped[str] = mapped_column(String(16), default="WAITING")
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When a runner began creating its job: another runner (another API host) leaves it alone meanwhile.
    starting_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    generation_id: Mapped[str | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL"), index=True, nullable=True
    )
    variation_id: Mapped[str | None] = mapped_column(
        ForeignKey("image_variations.id", ondelete="SET NULL"), index=True, nullable=True
    )
    # What it made, for the next node: init_image | generated_image | variation, and its id.
    output_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    output_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
