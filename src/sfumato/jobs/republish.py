"""No lost jobs: PENDING jobs whose "run it" message is missing are published again (by the reaper, on every
API host in Celery mode). The message is only a wake-up call; the row is the job, and the claim's row lock
and lease (jobs/core/runner.py) make a duplicate message harmless, so publishing again can never run a job twice.

A job is published again when no live worker holds it (never claimed, or its lease is stale) and either
- it was never published (`published_at` unset: the broker was down when the API host took the request),
  and it is older than `after_seconds`; or
- its last publish is older than `after_seconds` and the broker's queue for its model is empty, so the
  message is gone (a broker restarted without persistence, a queue purged by hand).
A job whose queue still holds messages is left alone: its message may be among them, behind others."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, or_, select

from sfumato.jobs.core.kinds import JobKinds, JobKindSpec
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.core.runner import aware
from sfumato.jobs.core.status import JobStatus
from sfumato.store.database import Database

log = logging.getLogger(__name__)


class Publisher(Protocol):
    """What publishing again needs of the dispatcher (jobs/celery_dispatch.py's CeleryDispatcher)."""

    def send(self, kind: str, job_id: str, model_id: str) -> bool: ...
    def queue_depths(self, model_ids: Iterable[str], lane: Lane = ...) -> dict[str, int]: ...


class Republisher:
    def __init__(
        self, db: Database, kinds: JobKinds, publisher: Publisher, after_seconds: float, lease_seconds: float
    ) -> None:
        self._db = db
        self._kinds = kinds
        self._publisher = publisher
        self._after = after_seconds
        self._lease = lease_seconds

    def sweep(self, now: datetime) -> list[str]:
        """One pass; returns the ids of the jobs it published again."""
        due = now - timedelta(seconds=self._after)
        stale = now - timedelta(seconds=max(self._after, self._lease))
        candidates: list[tuple[JobKindSpec, str, str, datetime | None]] = []
        with self._db.session() as s:
            for spec in self._kinds:
                t = spec.table
                query = spec.pending_with_model().where(
                    or_(t.claimed_at.is_(None), t.claimed_at < stale),
                    or_(and_(t.published_at.is_(None), t.created_at < due), t.published_at < due),
                )
                candidates += [
                    (spec, job_id, model_id, published)
                    for job_id, model_id, _, _, published, _ in s.execute(query.order_by(t.created_at)).all()
                ]
        if not candidates:
            return []
        depths: dict[Lane, dict[str, int]] = {}
        try:
            for lane in {spec.lane for spec, *_ in candidates}:
                models = {model for spec, _, model, at in candidates if at is not None and spec.lane is lane}
                depths[lane] = self._publisher.queue_depths(models, lane)
        except Exception as exc:
            log.warning("broker unreachable, %d jobs wait to be published again: %s", len(candidates), exc)
            return []
        done: list[str] = []
        for spec, job_id, model_id, published in candidates:
            if published is not None and depths[spec.lane].get(model_id, 0) > 0:
                continue  # its message may be in the queue, behind others
            with self._db.session() as s:
                # SKIP LOCKED: another API host's reaper (or a worker's claim) has it; leave it to them.
                row = s.scalar(select(spec.table).where(spec.table.id == job_id).with_for_update(skip_locked=True))
                if row is None or row.status != JobStatus.PENDING:
                    continue
                if row.claimed_at is not None and aware(row.claimed_at) >= stale:
                    continue  # a worker took it meanwhile
                if row.published_at is not None and aware(row.published_at) >= due:
                    continue  # published meanwhile (another host, or a retry)
                if not self._publisher.send(spec.name, job_id, model_id):
                    return done  # the broker went away: the next pass tries again
                row.published_at = now
            log.warning(
                "%s %s published again (%s)",
                spec.name,
                job_id,
                "never published" if published is None else "its message was lost",
            )
            done.append(job_id)
        return done
