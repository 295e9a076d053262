"""A user's live view of one generation (image or motion): its status and the progress events its job wrote.
The stream endpoint (api/routes/events.py) reads it in a loop; the events live in the database, so the view is
the same whether the job runs in this process or on a Celery worker elsewhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from sfumato.jobs.core.events import JobEvents, JobProgress
from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import NotFound
from sfumato.store.database import Database
from sfumato.store.models import Generation


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    preview_png: bytes | None


@dataclass(frozen=True)
class StreamRead:
    status: str  # the stored status (JobStatus value)
    progress: tuple[Progress, ...]  # progress events after the caller's `after`, oldest first
    last_seq: int  # pass back as `after`

    @property
    def final(self) -> bool:
        return JobStatus(self.status).terminal


class JobStream:
    def __init__(self, db: Database, events: JobEvents) -> None:
        self._db = db
        self._events = events

    def subscribe(self, generation_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        """`wake` runs when this process commits an event of the generation's job (see JobEvents.subscribe)."""
        return self._events.subscribe(generation_id, wake)

    def finishing(self, generation_id: str) -> bool:
        """Whether this process runs the generation's job and it is past its last step (JobEvents.finishing)."""
        return self._events.finishing(generation_id)

    def read(self, user_id: str, generation_id: str, after: int = 0) -> StreamRead:
        """NotFound for a missing id and for another user's (the same answer: nothing is learnt)."""
        with self._db.session() as s:
            status = s.scalar(
                select(Generation.status).where(Generation.id == generation_id, Generation.user_id == user_id)
            )
        if status is None:
            raise NotFound(
                f"no generation {generation_id!r} of yours: pass sdGenerationJob.generationId from POST /generations"
            )
        records = self._events.read(generation_id, after)
        progress = tuple(
            Progress(r.event.step, r.event.steps, r.event.preview_png)
            for r in records
            if isinstance(r.event, JobProgress)
        )
        return StreamRead(status, progress, records[-1].seq if records else after)
