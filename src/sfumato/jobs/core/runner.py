"""The one place a job moves from PENDING to COMPLETE, FAILED or CANCELLED, whichever kind it is and
whichever dispatcher delivered it.

- claim: the attempt is counted before the work starts, so a job that kills its process each time ends
  FAILED after `max_attempts`. With a lease (Celery workers, many at once) a claim also leaves a job alone
  while another live worker holds it, and honours the user's `apiConcurrencySlots`, counted over every kind
  of job under a lock on the user's row (so the cap holds across workers and hosts).
- transition: the only write of a final status. It refuses to leave a final status (a late `complete` after
  the reaper's FAILED changes nothing and queues no second webhook), and writes the `done` event and runs the
  kind's finish hooks (the webhook outbox) in their registered order, all in one transaction.
- a job deleted while it ran leaves no file behind; a failed or cancelled one leaves none either, and an
  attempt that lost the race to another worker removes only what it wrote itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfumato.jobs.core.batching import batch_candidates
from sfumato.jobs.core.context import JobCancelled, JobContext
from sfumato.jobs.core.events import JobDone, JobEvents, JobLog, JobStarted
from sfumato.jobs.core.kinds import BatchHandler, JobKinds, JobKindSpec
from sfumato.jobs.core.lanes import EngineGate, Lane
from sfumato.jobs.core.status import ClaimOutcome, ClaimResult, JobStatus, RunOutcome
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.models import JobColumns, User

log = logging.getLogger("sfumato.jobs")

CANCELLED_REASON = "cancelled on request (`sfumato jobs cancel`)"
HANDED_BACK_NOTE = (
    "handed back: its worker shut down before it finished; it runs again (a training from its last checkpoint)"
)


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes (stored as UTC).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class JobDeleted(Exception):
    """The job's row was deleted (with its generation or user) while the job ran."""


class JobSuperseded(Exception):
    """The job reached a final status some other way while this attempt ran (cancelled, reaped, or finished
    by another worker after this one's lease went stale)."""


@dataclass(frozen=True)
class CancelResult:
    kind: str
    job_id: str
    status: str  # the job's status after the request
    running_on: str | None  # the worker that will stop it at its next step; None when it is final already
    was_final: bool = False  # it had finished before the request: nothing changed


class JobRunner:
    def __init__(
        self,
        db: Database,
        kinds: JobKinds,
        events: JobEvents,
        files: FileStore,
        max_attempts: int = 3,
        worker_id: str | None = None,
        lease_seconds: float | None = None,
        gate: EngineGate | None = None,
        batch_limit: int = 1,
    ) -> None:
        """`batch_limit`: the most images one engine call may render for a batch of jobs (1: no batching)."""
        self._db = db
        self.kinds = kinds
        self.events = events
        self._files = files
        self._max_attempts = max_attempts
        # Recorded on the row (`worker`). `lease_seconds` is set on Celery workers only.
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.gate = gate or EngineGate()
        # Set at shutdown once the grace period is over: running jobs stop at their next step and go back to
        # PENDING, their attempt not counted, so the next worker (or this server restarted) runs them again.
        self._handing_back = threading.Event()
        self.batch_limit = batch_limit
        # Jobs this runner is running now (alone or batched): a second delivery of one of them is a no-op.
        self._running: set[str] = set()
        self._running_lock = threading.Lock()

    def hand_back_running(self) -> None:
        """Shutdown: every job this runner is running stops at its next step and is handed back; no new
        claims (they answer RETRY_LATER)."""
        self._handing_back.set()

    # --- the template every job follows ---
    def run(self, kind: str, job_id: str) -> RunOutcome:
        """Claim, do the work (with compatible waiting jobs when the kind batches), finish."""
        spec = self.kinds.get(kind)
        if self._handing_back.is_set():
            return RunOutcome.RETRY_LATER
        with self._running_lock:
            if job_id in self._running:  # it runs right now in a batch of this runner's: that batch ends it
                return RunOutcome.DONE
        claim = self.claim(kind, job_id)
        if claim.outcome is ClaimOutcome.RETRY_LATER:
            return RunOutcome.RETRY_LATER
        if claim.row is None:
            return RunOutcome.DONE
        rows = [claim.row, *self._claim_batch(spec, claim.row)]
        with self._running_lock:
            self._running.update(r.id for r in rows)
        try:
            if len(rows) == 1:
                return self._run_one(spec, rows[0])
            return self._run_batch(spec, rows)
        finally:
            with self._running_lock:
                self._running.difference_update(r.id for r in rows)

    def _run_one(self, spec: JobKindSpec, row: Any) -> RunOutcome:
        ctx = self._context(spec, row)
        started = time.perf_counter()
        try:
            with self.gate.turn(spec.lane):
                note = spec.handler.execute(ctx, row)
        except Exception as exc:
            return self._settle(spec, row, ctx, exc)
        log.info("%s %s COMPLETE in %.2fs%s", spec.name, row.id, time.perf_counter() - started, note or "")
        return RunOutcome.DONE

    def _claim_batch(self, spec: JobKindSpec, first: Any) -> list[Any]:
        """The waiting jobs that join `first` in one engine call, each claimed as if delivered alone."""
        if spec.batching is None or self.batch_limit <= 1:
            return []
        claimed = []
        for job_id in batch_candidates(self._db, spec, first, self.batch_limit, self.lease_seconds):
            claim = self.claim(spec.name, job_id)
            if claim.row is not None:
                claimed.append(claim.row)
        return claimed

    def _run_batch(self, spec: JobKindSpec, rows: list[Any]) -> RunOutcome:
        """Every job of the batch is settled alone (one cancelled or failed job leaves the others be); the
        outcome is the first job's, the one whose delivery this is."""
        ctxs = [self._context(spec, row) for row in rows]
        started = time.perf_counter()
        for ctx in ctxs:
            ctx.note(f"runs in a batch of {len(rows)} jobs")
        handler: BatchHandler = spec.handler  # type: ignore[assignment]  # check_spec saw execute_batch
        try:
            with self.gate.turn(spec.lane):
                outcomes = handler.execute_batch(ctxs, rows)
        except Exception as exc:
            outcomes = [exc] * len(rows)
        result = RunOutcome.DONE
        for index, (row, ctx, error) in enumerate(zip(rows, ctxs, outcomes, strict=True)):
            if error is None:
                elapsed = time.perf_counter() - started
                log.info("%s %s COMPLETE in %.2fs (batch of %d)", spec.name, row.id, elapsed, len(rows))
            elif self._settle(spec, row, ctx, error) is RunOutcome.RETRY_LATER and index == 0:
                result = RunOutcome.RETRY_LATER
        return result

    def _settle(self, spec: JobKindSpec, row: Any, ctx: JobContext, exc: Exception) -> RunOutcome:
        """A job whose work raised: deleted, superseded, cancelled (or handed back at shutdown), or FAILED."""
        ctx.flush()  # its queued progress and log lines first, so its end is its last event
        if isinstance(exc, JobDeleted):
            self._discard_deleted(spec, row)
        elif isinstance(exc, JobSuperseded):
            self._remove(ctx.written)
        elif isinstance(exc, JobCancelled):
            if self._handing_back.is_set() and not self.cancel_requested(spec.name, row.id):
                self._hand_back(spec, row.id, ctx.written)
                return RunOutcome.RETRY_LATER
            if self._end(spec, row.id, JobStatus.CANCELLED, CANCELLED_REASON):
                spec.handler.discard(row)
            elif self._gone(spec, row.id):  # deleted while it ran: a deleted row stops its job as a cancel does
                self._discard_deleted(spec, row)
            else:
                self._remove(ctx.written)
            log.info("%s %s CANCELLED", spec.name, row.id)
        else:
            log.error("%s %s FAILED", spec.name, row.id, exc_info=exc)
            reason = spec.handler.failure_reason(exc) or f"{type(exc).__name__}: {exc}"
            if self._end(spec, row.id, JobStatus.FAILED, reason):
                spec.handler.discard(row)
            else:
                self._remove(ctx.written)
        return RunOutcome.DONE

    def _discard_deleted(self, spec: JobKindSpec, row: Any) -> None:
        """A job whose row was deleted while it ran: its files, and the events it wrote after the deletion took
        the others."""
        spec.handler.discard(row)
        self.events.forget(row.id)

    def _context(self, spec: JobKindSpec, row: JobColumns) -> JobContext:
        give_way = self.gate.yield_to_interactive if spec.lane is Lane.LONG else (lambda: None)
        return JobContext(
            spec.name,
            row.id,
            row.user_id,
            self._files,
            self.events,
            # A hand-back at shutdown stops the job the way a cancel does; the runner tells them apart.
            cancel_requested=lambda: self._handing_back.is_set() or self.cancel_requested(spec.name, row.id),
            complete=lambda record: self.complete(spec.name, row.id, record),
            give_way=give_way,
        )

    def _hand_back(self, spec: JobKindSpec, job_id: str, written: list[str]) -> None:
        """PENDING again, unclaimed, this attempt not counted; what it wrote is removed (a training keeps its
        checkpoints, which live in its work folder, so it resumes from the last one)."""
        self._remove(written)
        with self._db.session() as s:
            row = s.get(spec.table, job_id, with_for_update=True)
            if row is None or row.status != JobStatus.PENDING or row.worker != self.worker_id:
                return
            row.attempts = max(0, row.attempts - 1)
            row.worker, row.claimed_at = None, None
            self.events.add(s, spec.name, row.id, row.user_id, JobLog(HANDED_BACK_NOTE))
        log.info("%s %s handed back at shutdown", spec.name, job_id)

    def _remove(self, keys: list[str]) -> None:
        for key in keys:
            self._files.delete(key)

    # --- the row's moves ---
    def transition(self, s: Session, spec: JobKindSpec, row: Any, to: JobStatus, reason: str | None = None) -> bool:
        """PENDING -> `to`, with the done event and the finish hooks, in the caller's transaction. False (and
        nothing written) when the row is final already."""
        if JobStatus(row.status).terminal or not to.terminal:
            return False
        row.status, row.failure_reason = to.value, reason
        self.events.add(s, spec.name, row.id, row.user_id, JobDone(to.value, reason))
        for hook in spec.finish_hooks:
            hook(s, row)
        return True

    def pending_jobs(self) -> list[tuple[str, str]]:
        """(kind, id) of every PENDING job of every kind, oldest first."""
        found: list[tuple[datetime, str, str]] = []
        with self._db.session() as s:
            for spec in self.kinds:
                t = spec.table
                rows = s.execute(select(t.id, t.created_at).where(t.status == JobStatus.PENDING, spec.mine())).all()
                found += [(aware(created), spec.name, job_id) for job_id, created in rows]
        return [(kind, job_id) for _, kind, job_id in sorted(found)]

    def claim(self, kind: str, job_id: str) -> ClaimResult[Any]:
        spec = self.kinds.get(kind)
        with self._db.session() as s:
            # FOR UPDATE (PostgreSQL): two workers handed the same job claim it one after the other.
            row = s.get(spec.table, job_id, with_for_update=True)
            if row is None or row.status != JobStatus.PENDING or not spec.owns(row):
                return ClaimResult(ClaimOutcome.SKIP)
            if row.cancel_requested_at is not None:  # cancelled before it started (or after its worker died)
                self.transition(s, spec, row, JobStatus.CANCELLED, CANCELLED_REASON)
                return ClaimResult(ClaimOutcome.SKIP)
            now = datetime.now(UTC)
            if self.lease_seconds is not None:
                fresh = now - timedelta(seconds=self.lease_seconds)
                held = row.claimed_at is not None and aware(row.claimed_at) > fresh
                if held and row.worker != self.worker_id:
                    return ClaimResult(ClaimOutcome.RETRY_LATER)  # a redelivered copy while its worker runs it
                # The user row lock serializes the slot check of one user's jobs across all workers.
                user = s.get(User, row.user_id, with_for_update=True)
                if user is not None and self.running_jobs(s, row.user_id, fresh, row.id) >= user.api_concurrency_slots:
                    # The Celery task publishes the job again at once: a fresh publish, not a lost one.
                    row.published_at = now
                    return ClaimResult(ClaimOutcome.RETRY_LATER)
            row.attempts += 1
            if row.attempts > self._max_attempts:
                reason = f"the job stopped its worker {row.attempts - 1} times; giving up"
                self.transition(s, spec, row, JobStatus.FAILED, reason)
                return ClaimResult(ClaimOutcome.SKIP)
            row.worker, row.claimed_at = self.worker_id, now
            self.events.add(s, spec.name, row.id, row.user_id, JobStarted(self.worker_id, row.attempts))
            return ClaimResult(ClaimOutcome.CLAIMED, row)

    def running_jobs(self, s: Session, user_id: str, fresh: datetime, besides: str) -> int:
        """The user's jobs of every kind that a live worker holds now (lease renewed after `fresh`)."""
        total = 0
        for t in self.kinds.tables():
            total += (
                s.scalar(
                    select(func.count())
                    .select_from(t)
                    .where(t.user_id == user_id, t.status == JobStatus.PENDING, t.id != besides, t.claimed_at > fresh)
                )
                or 0
            )
        return total

    def complete(self, kind: str, job_id: str, record: Callable[[Session, Any], None]) -> None:
        """`record` writes the results on the row; then COMPLETE, in one transaction."""
        spec = self.kinds.get(kind)
        with self._db.session() as s:
            row = s.get(spec.table, job_id, with_for_update=True)
            if row is None:
                raise JobDeleted()
            if row.status != JobStatus.PENDING:
                raise JobSuperseded(row.status)
            record(s, row)
            self.transition(s, spec, row, JobStatus.COMPLETE)

    def _gone(self, spec: JobKindSpec, job_id: str) -> bool:
        with self._db.session() as s:
            return s.get(spec.table, job_id) is None

    def fail(self, kind: str, job_id: str, reason: str) -> bool:
        return self._end(self.kinds.get(kind), job_id, JobStatus.FAILED, reason)

    def _end(self, spec: JobKindSpec, job_id: str, to: JobStatus, reason: str) -> bool:
        with self._db.session() as s:
            row = s.get(spec.table, job_id, with_for_update=True)
            return row is not None and self.transition(s, spec, row, to, reason)

    def fail_unclaimed(self, kind: str, job_id: str, reason: str, stale_before: datetime) -> bool:
        """FAILED with `reason` if still PENDING and not held by a worker since `stale_before` (the reaper)."""
        spec = self.kinds.get(kind)
        with self._db.session() as s:
            row = s.get(spec.table, job_id, with_for_update=True)
            if row is None or row.status != JobStatus.PENDING:
                return False
            if row.claimed_at is not None and aware(row.claimed_at) > stale_before:
                return False
            return self.transition(s, spec, row, JobStatus.FAILED, reason)

    # --- cancel ---
    def find(self, job_id: str) -> JobKindSpec | None:
        """The kind of a job id (ids are UUIDs, unique across kinds)."""
        with self._db.session() as s:
            for spec in self.kinds:
                row = s.get(spec.table, job_id)
                if row is not None and spec.owns(row):
                    return spec
        return None

    def cancel(self, kind: str, job_id: str) -> CancelResult:
        """A job waiting for a worker is CANCELLED at once; a running one stops at its next step (its worker
        sees the request through `JobContext.progress`). KeyError: no such job; ValueError: not cancellable."""
        spec = self.kinds.get(kind)
        if not spec.cancellable:
            raise ValueError(f"{spec.name} jobs cannot be cancelled")
        with self._db.session() as s:
            row = s.get(spec.table, job_id, with_for_update=True)
            if row is None:
                raise KeyError(job_id)
            if JobStatus(row.status).terminal:
                return CancelResult(spec.name, job_id, row.status, None, was_final=True)
            now = datetime.now(UTC)
            row.cancel_requested_at = now
            live = self.lease_seconds is None or (
                row.claimed_at is not None and aware(row.claimed_at) > now - timedelta(seconds=self.lease_seconds)
            )
            if row.claimed_at is None or not live:
                self.transition(s, spec, row, JobStatus.CANCELLED, CANCELLED_REASON)
                return CancelResult(spec.name, job_id, row.status, None)
            return CancelResult(spec.name, job_id, row.status, row.worker)

    def cancel_requested(self, kind: str, job_id: str) -> bool:
        spec = self.kinds.get(kind)
        with self._db.read() as connection:  # a plain Core read: it runs every 0.25 s of every job
            found = connection.execute(select(spec.table.cancel_requested_at).where(spec.table.id == job_id)).first()
        # A deleted row (its owner deleted the generation or the model) stops its job as a cancel does.
        return found is None or found[0] is not None
