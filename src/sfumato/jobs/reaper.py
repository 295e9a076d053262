"""The reaper: jobs no worker will ever take become FAILED, with a message naming the model; jobs whose
broker message is missing are published again (jobs/republish.py).

A job (a generation, or a variation, which runs on its generation's model) waits in its model's queue; if
no live worker has served that model for `unserved_after` seconds (judged from the workers' heartbeat rows,
the database being the one place every host can read), the job is FAILED through its runner (so the
webhook outbox row is written with it). Every API host may run
one; the work is idempotent (each row is locked and re-checked before it changes)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from sfumato.jobs.core.runner import JobRunner, aware
from sfumato.jobs.republish import Republisher
from sfumato.store.database import Database
from sfumato.store.workers import WorkerRow

log = logging.getLogger(__name__)

PRUNE_WORKERS_AFTER = timedelta(days=7)  # heartbeat rows of workers gone this long are forgotten


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
        WorkerInfo(
            r.id,
            r.hostname,
            r.pid,
            list(r.models or []),
            r.device,
            r.concurrency,
            r.current_job,
            r.jobs_done,
            aware(r.last_seen),
            aware(r.last_seen) > now - timedelta(seconds=dead_after_seconds),
        )
        for r in rows
    ]


def unserved_message(model_id: str, seconds: float) -> str:
    return (
        f"no worker serves model {model_id}: none has for {seconds:g} seconds, so this job never ran; "
        f"start one with `sfumato worker --models {model_id}` and send the request again"
    )


@dataclass(frozen=True)
class Sweep:
    failed: list[str]  # jobs FAILED because no worker serves their model
    republished: list[str]  # jobs whose missing message was published again (jobs/republish.py)


class Reaper:
    def __init__(
        self,
        db: Database,
        runner: JobRunner,
        unserved_after: float,
        interval: float,
        dead_after: float,
        republisher: Republisher | None = None,
    ) -> None:
        self._db = db
        self._runner = runner
        self._unserved_after = unserved_after
        self._interval = interval
        self._dead_after = dead_after
        self._republisher = republisher
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, now: datetime | None = None) -> Sweep:
        """One pass over every kind of job."""
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(seconds=self._unserved_after)
        last_served: dict[str, datetime] = {}
        for w in list_workers(self._db, self._dead_after, now):
            # A live worker serves its models now; a dead one served them until its last heartbeat.
            seen = now if w.alive else w.last_seen
            for model_id in w.models:
                last_served[model_id] = max(seen, last_served.get(model_id, seen))
        waiting: list[tuple[str, str, str]] = []
        with self._db.session() as s:
            for spec in self._runner.kinds:
                query = spec.pending_with_model().where(spec.table.created_at < cutoff)
                waiting += [(spec.name, job_id, model_id) for job_id, model_id, *_ in s.execute(query).all()]
            s.execute(delete(WorkerRow).where(WorkerRow.last_seen < now - PRUNE_WORKERS_AFTER))
        failed = []
        for kind, job_id, model_id in waiting:
            served = last_served.get(model_id)
            if served is not None and served > cutoff:
                continue
            if self._runner.fail_unclaimed(kind, job_id, unserved_message(model_id, self._unserved_after), cutoff):
                log.warning("%s %s FAILED: no worker serves model %s", kind, job_id, model_id)
                failed.append(job_id)
        republished = self._republisher.sweep(now) if self._republisher is not None else []
        return Sweep(failed, republished)

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
