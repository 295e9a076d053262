"""The Dispatcher for many machines: `submit` publishes the job to its model's Celery queue. It keeps no
state a second API host would need; the database row is the job, the message only a wake-up call.

A publish that fails (broker down) does not fail the request: the row stays PENDING with `published_at`
unset, and the reaper publishes it again once the broker is back (jobs/republish.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from celery import Celery
from sqlalchemy import select, update

from sfumato.jobs.broker import queue_depths
from sfumato.jobs.celery_app import TASK_NAME, queue_for_model
from sfumato.jobs.claims import KIND_OF_TABLE
from sfumato.jobs.dispatch import JobKind
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import Generation

log = logging.getLogger(__name__)

# (kind, job id) -> the model id whose queue gets the job.
JobModel = Callable[[JobKind, str], str | None]
TABLE_OF_KIND = {kind: table for table, kind in KIND_OF_TABLE.items()}


class Background:
    """Something this dispatcher runs beside it in the API process (the reaper)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class CeleryDispatcher:
    def __init__(self, app: Celery, db: Database, background: list[Background] | None = None) -> None:
        self.app = app
        self._db = db
        self._job_model = model_of_job(db)
        self.background: list[Background] = background or []

    def submit(self, kind: JobKind, job_id: str) -> None:
        model_id = self._job_model(kind, job_id)
        if model_id is None:
            return  # deleted before it was queued
        if self.send(kind, job_id, model_id):
            table = TABLE_OF_KIND[kind]
            with self._db.session() as s:
                s.execute(update(table).where(table.id == job_id).values(published_at=datetime.now(UTC)))

    def send(self, kind: JobKind, job_id: str, model_id: str) -> bool:
        """Publish one "run job" message; False (logged) when the broker cannot take it."""
        try:
            self.app.send_task(TASK_NAME, args=[str(kind), job_id], queue=queue_for_model(model_id))
        except Exception as exc:
            log.warning("could not publish %s %s to the broker (the reaper publishes it again later): %s: %s",
                        kind, job_id, type(exc).__name__, exc)  # fmt: skip
            return False
        return True

    def queue_depths(self, model_ids: Iterable[str]) -> dict[str, int]:
        return queue_depths(self.app, model_ids)

    def start(self) -> None:
        for item in self.background:
            item.start()

    def stop(self) -> None:
        for item in self.background:
            item.stop()
        self.app.close()


def model_of_job(db: Database) -> JobModel:
    """The model a job needs: a generation's own, a variation's generation's (upscale/unzoom use it)."""

    def lookup(kind: JobKind, job_id: str) -> str | None:
        with db.session() as s:
            if kind == JobKind.GENERATION:
                return s.scalar(select(Generation.model_id).where(Generation.id == job_id))
            query = select(Generation.model_id).join(ImageVariation, ImageVariation.generation_id == Generation.id)
            return s.scalar(query.where(ImageVariation.id == job_id))

    return lookup
