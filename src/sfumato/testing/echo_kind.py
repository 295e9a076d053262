"""A job kind for tests of the job core, registered as a plugin (SFUMATO_JOB_KIND_PLUGINS=
"sfumato.testing.echo_kind:register"), so the embedded server and Celery workers load it the way an operator's
own kind would load. An echo job counts `steps` steps of `step_seconds` each, reports progress each step, and
writes its message to a file; `echo` runs on the interactive lane, `echo-long` on the long one. Its tables
have their own metadata (created by `register`), so the product's schema never sees them."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm import Session as OrmSession

from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import JobKinds, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.models import JobColumns

ECHO, ECHO_LONG = "echo", "echo-long"


class EchoBase(DeclarativeBase):
    pass


class EchoColumns(JobColumns):
    # No foreign key: the users table is in the product's metadata, not this one.
    user_id: Mapped[str] = mapped_column(String(36), index=True)  # type: ignore[assignment]
    model_id: Mapped[str] = mapped_column(String(36))
    message: Mapped[str] = mapped_column(Text, default="")
    steps: Mapped[int] = mapped_column(Integer, default=3)
    step_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    output_key: Mapped[str | None] = mapped_column(Text, nullable=True)


class EchoJob(EchoColumns, EchoBase):
    __tablename__ = "test_echo_jobs"


class LongEchoJob(EchoColumns, EchoBase):
    __tablename__ = "test_long_echo_jobs"


def output_key(row: EchoColumns) -> str:
    return f"users/{row.user_id}/echo/{row.id}.txt"


class EchoHandler:
    def __init__(self, files: FileStore) -> None:
        self._files = files

    def execute(self, ctx: JobContext, row: EchoColumns) -> str | None:
        for step in range(1, row.steps + 1):
            time.sleep(row.step_seconds)
            ctx.progress(step, row.steps)
        ctx.note(f"echoing {len(row.message)} characters")
        key = output_key(row)
        ctx.put(key, row.message.encode())

        def record(s: OrmSession, current: EchoColumns) -> None:
            current.output_key = key

        ctx.complete(record)
        return None

    def discard(self, row: EchoColumns) -> None:
        self._files.delete(output_key(row))

    def failure_reason(self, exc: Exception) -> str | None:
        return None


def register(kinds: JobKinds, parts: object) -> None:
    """The plugin entry point: `parts` is bootstrap's KindParts (db, files, engine)."""
    db: Database = parts.db  # type: ignore[attr-defined]
    files: FileStore = parts.files  # type: ignore[attr-defined]
    EchoBase.metadata.create_all(db.engine)
    for name, table, lane in ((ECHO, EchoJob, Lane.INTERACTIVE), (ECHO_LONG, LongEchoJob, Lane.LONG)):
        kinds.register(JobKindSpec(name, table, EchoHandler(files), ModelOf(table.model_id), lane))


def add_echo(
    db: Database,
    user_id: str,
    model_id: str,
    *,
    long: bool = False,
    steps: int = 3,
    step_seconds: float = 0.0,
    message: str = "hello",
) -> str:
    """A PENDING echo job (what a service would insert before submitting it)."""
    table = LongEchoJob if long else EchoJob
    job_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            table(
                id=job_id,
                user_id=user_id,
                model_id=model_id,
                message=message,
                steps=steps,
                step_seconds=step_seconds,
                status="PENDING",
                attempts=0,
            )
        )
    return job_id
