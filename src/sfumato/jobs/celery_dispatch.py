"""The Dispatcher for many machines: `submit` publishes the job to its model's Celery queue. It keeps no
state a second API host would need; the database row is the job, the message only a wake-up call."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import Celery
from sqlalchemy import select

from sfumato.jobs.celery_app import TASK_NAME, queue_for_model
from sfumato.jobs.dispatch import JobKind
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import Generation

log = logging.getLogger(__name__)

# (kind, job id) -> the model id whose queue gets the job.
JobModel = Callable[[JobKind, str], str | None]


class Background:
    """Something this dispatcher runs beside it in the API process (the reaper)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class CeleryDispatcher:
    def __init__(self, app: Celery, job_model: JobModel, background: list[Background] | None = None) -> None:
        self._app = app
        self._job_model = job_model
        self._background = background or []

    def submit(self, kind: JobKind, job_id: str) -> None:
        model_id = self._job_model(kind, job_id)
        if model_id is None:
            return  # deleted before it was queued
        # A failed publish leaves the row PENDING; the reaper resubmits or fails it, so nothing is lost.
        try:
            self._app.send_task(TASK_NAME, args=[str(kind), job_id], queue=queue_for_model(model_id))
        except Exception:
            log.exception("could not publish %s %s to the broker", kind, job_id)

    def start(self) -> None:
        for item in self._background:
            item.start()

    def stop(self) -> None:
        for item in self._background:
            item.stop()
        self._app.close()


def model_of_job(db: Database) -> JobModel:
    """The model a job needs: a generation's own, a variation's generation's (upscale/unzoom use it)."""

    def lookup(kind: JobKind, job_id: str) -> str | None:
        with db.session() as s:
            if kind == JobKind.GENERATION:
                return s.scalar(select(Generation.model_id).where(Generation.id == job_id))
            query = select(Generation.model_id).join(ImageVariation, ImageVariation.generation_id == Generation.id)
            return s.scalar(query.where(ImageVariation.id == job_id))

    return lookup
