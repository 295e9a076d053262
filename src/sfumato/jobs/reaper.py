"""The reaper: jobs no worker will ever take become FAILED, with a message naming the model.

A job waits in its model's queue; if no live worker has served that model for `unserved_after` seconds
(judged from the workers' heartbeat rows, the database being the one place every host can read), the job
is FAILED through the JobRunner (so the webhook outbox row is written with it). Every API host may run
one; the work is idempotent (each row is locked and re-checked before it changes)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from sfumato.jobs.runner import JobRunner
from sfumato.store.database import Database
from sfumato.store.models import Generation
from sfumato.store.workers import WorkerRow

log = logging.getLogger(__name__)

PRUNE_WORKERS_AFTER = timedelta(days=7)  # heartbeat rows of workers gone this long are forgotten


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    models: list[str]
    device: str
    concurrency: int
    current_job: str | None
    jobs_done: int
    last_seen: datetime
    alive: bool


def list_workers(db: Database, dead_after_seconds: float, now: datetime | None = None) -> list[WorkerInfo]:
    now = now or datetime.now(UTC)
    with db.session() as s:
        rows = s.scalars(select(WorkerRow).order_by(WorkerRow.hostname, WorkerRow.pid)).all()
    return [
        WorkerInfo(r.id, r.hostname, r.pid, list(r.models or []), r.device, r.concurrency, r.current_job,
                   r.jobs_done, aware(r.last_seen), aware(r.last_seen) > now - timedelta(seconds=dead_after_seconds))
        for r in rows
    ]  # fmt: skip


def unserved_message(model_id: str, seconds: float) -> str:
    return (
        f"no worker serves model {model_id}: none has for {seconds:g} seconds, so this job never ran; "
        f"start one with `sfumato worker --models {model_id}` and generate again"
    )


class Reaper:
    def __init__(
        self, db: Database, runner: JobRunner, unserved_after: float, interval: float, dead_after: float
    ) -> None:
        self._db = db
        self._runner = runner
        self._unserved_after = unserved_after
        self._interval = interval
        self._dead_after = dead_after
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, now: datetime | None = None) -> list[str]:
        """One pass; returns the ids of the jobs it FAILED."""
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(seconds=self._unserved_after)
        last_served: dict[str, datetime] = {}
        for w in list_workers(self._db, self._dead_after, now):
            # A live worker serves its models now; a dead one served them until its last heartbeat.
            seen = now if w.alive else w.last_seen
            for model_id in w.models:
                last_served[model_id] = max(seen, last_served.get(model_id, seen))
        with self._db.session() as s:
            waiting = s.execute(
                select(Generation.id, Generation.model_id)
                .where(Generation.status == "PENDING", Generation.created_at < cutoff)
            ).all()  # fmt: skip
            s.execute(delete(WorkerRow).where(WorkerRow.last_seen < now - PRUNE_WORKERS_AFTER))
        failed = []
        for job_id, model_id in waiting:
            served = last_served.get(model_id)
            if served is not None and served > cutoff:
                continue
            if self._runner.fail_unclaimed(job_id, unserved_message(model_id, self._unserved_after), cutoff):
                log.warning("generation %s FAILED: no worker serves model %s", job_id, model_id)
                failed.append(job_id)
        return failed

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="sfumato-reaper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def run_forever(self) -> None:
        self._loop()

    def _loop(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("reaper pass failed")
            if self._stopping.wait(self._interval):
                return
