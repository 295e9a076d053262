"""What every job runner shares (generations in jobs/runner.py, variations in jobs/variation_runner.py): the
one way a job row moves from PENDING to COMPLETE or FAILED, whichever dispatcher delivered it.

- claim: the attempt is counted before the work starts, so a job that kills its process each time ends
  FAILED after `max_attempts`. With a lease (Celery workers, many at once) a claim also leaves a job alone
  while another live worker holds it, and honours the user's `apiConcurrencySlots`, counted over every kind
  of job under a lock on the user's row (so the cap holds across workers and hosts).
- finish: the status and the finish hooks (the webhook outbox) are written in one transaction.
- a job deleted while it ran leaves no file behind; a failed one leaves none either.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sfumato.jobs.dispatch import RETRY_LATER, JobKind
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import Generation, User

log = logging.getLogger(__name__)

# Every table whose rows are jobs; each has id, user_id, status, failure_reason, attempts, worker,
# claimed_at, published_at and created_at.
JOB_TABLES: tuple[type[Generation], type[ImageVariation]] = (Generation, ImageVariation)
KIND_OF_TABLE: dict[type, JobKind] = {Generation: JobKind.GENERATION, ImageVariation: JobKind.VARIATION}

Row = TypeVar("Row", Generation, ImageVariation)


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def running_jobs(s: Session, user_id: str, fresh: datetime, besides: str) -> int:
    """The user's jobs of every kind that a live worker holds now (lease renewed after `fresh`)."""
    total = 0
    for table in JOB_TABLES:
        total += s.scalar(
            select(func.count()).select_from(table).where(
                table.user_id == user_id, table.status == "PENDING", table.id != besides, table.claimed_at > fresh)
        ) or 0  # fmt: skip
    return total


def pending_with_model(table: type[Generation] | type[ImageVariation]) -> Select:
    """PENDING rows of `table` as (id, model_id, created_at, claimed_at, published_at, worker); a variation
    runs on its generation's model (its queue is that model's)."""
    query = select(table.id, Generation.model_id, table.created_at, table.claimed_at, table.published_at,
                   table.worker)  # fmt: skip
    query = query.select_from(table).where(table.status == "PENDING")
    if table is ImageVariation:
        query = query.join(Generation, ImageVariation.generation_id == Generation.id)
    return query


class JobDeleted(Exception):
    """The job's row was deleted (with its generation or user) while the job ran."""


class JobClaims(ABC, Generic[Row]):
    """Base of the runners. A subclass sets `table` and `kind` and implements `execute` (the work, ending
    with `complete`), `discard` (remove the files of a job that did not complete) and `failure_reason`."""

    table: type[Row]
    kind: JobKind

    def __init__(
        self, db: Database, max_attempts: int = 3, finish_hooks: list[Callable[[Session, Row], None]] | None = None
    ) -> None:
        self._db = db
        self._max_attempts = max_attempts
        self.finish_hooks: list[Callable[[Session, Row], None]] = finish_hooks or []
        # Recorded on the row (`worker`). `lease_seconds` is set on Celery workers only (jobs/worker.py).
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.lease_seconds: float | None = None

    # --- the template every job follows ---
    def run(self, job_id: str) -> str | None:
        """Claim, do the work, finish. Returns RETRY_LATER when the job may not start yet, else None."""
        row = self.claim(job_id)
        if row is None or isinstance(row, str):
            return row
        started = time.perf_counter()
        try:
            note = self.execute(row)
        except JobDeleted:
            self.discard(row)
            return None
        except Exception as exc:
            log.exception("%s %s FAILED", self.kind, row.id)
            self.discard(row)
            self.fail(row.id, self.failure_reason(exc))
            return None
        log.info("%s %s COMPLETE in %.2fs%s", self.kind, row.id, time.perf_counter() - started, note or "")
        return None

    @abstractmethod
    def execute(self, row: Row) -> str | None:
        """The work; ends with `complete`. Returns an optional note for the log line."""

    @abstractmethod
    def discard(self, row: Row) -> None:
        """Remove whatever files this job wrote (it did not complete)."""

    def failure_reason(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    # --- the row's moves ---
    def pending_jobs(self) -> list[tuple[JobKind, str]]:
        with self._db.session() as s:
            ids = s.scalars(
                select(self.table.id).where(self.table.status == "PENDING").order_by(self.table.created_at)
            ).all()
        return [(self.kind, i) for i in ids]

    def claim(self, job_id: str) -> Row | str | None:
        """The row (now this worker's), RETRY_LATER, or None (nothing to do: gone, finished, given up)."""
        with self._db.session() as s:
            # FOR UPDATE (PostgreSQL): two workers handed the same job claim it one after the other.
            row = s.get(self.table, job_id, with_for_update=True)
            if row is None or row.status != "PENDING":
                return None
            now = datetime.now(UTC)
            if self.lease_seconds is not None:
                fresh = now - timedelta(seconds=self.lease_seconds)
                held = row.claimed_at is not None and aware(row.claimed_at) > fresh
                if held and row.worker != self.worker_id:
                    return RETRY_LATER  # a redelivered copy while its worker still runs it
                # The user row lock serializes the slot check of one user's jobs across all workers.
                user = s.get(User, row.user_id, with_for_update=True)
                if user is not None and running_jobs(s, row.user_id, fresh, row.id) >= user.api_concurrency_slots:
                    # The Celery task publishes the job again at once: a fresh publish, not a lost one.
                    row.published_at = now
                    return RETRY_LATER
            row.attempts += 1
            if row.attempts > self._max_attempts:
                self._finish(s, row, "FAILED", f"the job stopped its worker {row.attempts - 1} times; giving up")
                return None
            row.worker, row.claimed_at = self.worker_id, now
            return row

    def complete(self, job_id: str, record: Callable[[Session, Row], None]) -> None:
        """`record` writes the results on the row; then COMPLETE, in one transaction. JobDeleted if gone."""
        with self._db.session() as s:
            current = s.get(self.table, job_id)
            if current is None:
                raise JobDeleted()
            record(s, current)
            self._finish(s, current, "COMPLETE")

    def fail(self, job_id: str, reason: str) -> None:
        with self._db.session() as s:
            current = s.get(self.table, job_id)
            if current is not None:
                self._finish(s, current, "FAILED", reason)

    def fail_unclaimed(self, job_id: str, reason: str, stale_before: datetime) -> bool:
        """FAILED with `reason` if still PENDING and not held by a worker since `stale_before` (the reaper)."""
        with self._db.session() as s:
            row = s.get(self.table, job_id, with_for_update=True)
            if row is None or row.status != "PENDING":
                return False
            if row.claimed_at is not None and aware(row.claimed_at) > stale_before:
                return False
            self._finish(s, row, "FAILED", reason)
            return True

    def _finish(self, s: Session, row: Row, status: str, reason: str | None = None) -> None:
        row.status, row.failure_reason = status, reason
        for hook in self.finish_hooks:
            hook(s, row)
