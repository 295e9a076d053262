"""The Dispatcher for many machines: `submit` publishes the job to its model's Celery queue for the job's
lane. It keeps no state a second API host would need; the database row is the job, the message only a
wake-up call.

A publish that fails (broker down) does not fail the request: the row stays PENDING with `published_at`
unset, and the reaper publishes it again once the broker is back (jobs/republish.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from celery import Celery
from sqlalchemy import update

from sfumato.jobs.broker import queue_depths
from sfumato.jobs.celery_app import TASK_NAME, queue_for
from sfumato.jobs.core.kinds import JobKinds
from sfumato.jobs.core.lanes import Lane
from sfumato.store.database import Database

log = logging.getLogger(__name__)


class Background(Protocol):
    """Something this dispatcher runs beside it in the API process (the reaper)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class CeleryDispatcher:
    def __init__(self, app: Celery, db: Database, kinds: JobKinds, background: list[Background] | None = None) -> None:
        self.app = app
        self._db = db
        self._kinds = kinds
        self.background: list[Background] = background or []

    def submit(self, kind: str, job_id: str) -> None:
        spec = self._kinds.get(kind)
        with self._db.session() as s:
            model_id = s.scalar(spec.model_of_job(job_id))
        if model_id is None:
            return  # deleted before it was queued
        if self.send(kind, job_id, model_id):
            with self._db.session() as s:
                s.execute(update(spec.table).where(spec.table.id == job_id).values(published_at=datetime.now(UTC)))

    def send(self, kind: str, job_id: str, model_id: str) -> bool:
        """Publish one "run job" message; False (logged) when the broker cannot take it."""
        queue = queue_for(model_id, self._kinds.lane_of(kind))
        try:
            self.app.send_task(TASK_NAME, args=[str(kind), job_id], queue=queue)
        except Exception as exc:
            log.warning(
                "could not publish %s %s to the broker (the reaper publishes it again later): %s: %s",
                kind,
                job_id,
                type(exc).__name__,
                exc,
            )
            return False
        return True

    def queue_depths(self, model_ids: Iterable[str], lane: Lane = Lane.INTERACTIVE) -> dict[str, int]:
        return queue_depths(self.app, model_ids, lane=lane)

    def check(self) -> None:
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)  # raises when the broker is unreachable

    def start(self) -> None:
        for item in self.background:
            item.start()

    def stop(self) -> None:
        for item in self.background:
            item.stop()
        self.app.close()
