"""Worker heartbeat rows: each `sfumato worker` process writes one every few seconds, so any API host (the
reaper, `sfumato status`) knows which workers are alive and which models they serve, with no broker query."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, utcnow


class WorkerRow(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # hostname:pid, also Generation.worker
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    models: Mapped[list[Any]] = mapped_column(JSON, default=list)  # model ids it consumes the queues of
    device: Mapped[str] = mapped_column(String(40))
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    current_job: Mapped[str | None] = mapped_column(String(36), nullable=True)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
