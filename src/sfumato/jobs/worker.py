"""`sfumato worker`: one Celery worker per GPU. It preloads its models, consumes one queue per model, writes
a heartbeat row (models, device, current job) every few seconds and renews the lease of the jobs it runs.
Jobs run through the same JobRunner as the embedded default; this module only wires and reports. A worker
serves the lanes it is given (both by default): start dedicated `--lanes long` workers for training and
motion so their jobs never queue in front of generations."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import update

from sfumato.jobs.celery_app import make_celery, queue_for, register_runner
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.core.runner import JobRunner
from sfumato.jobs.core.status import JobStatus, RunOutcome
from sfumato.settings import Settings
from sfumato.store.database import Database
from sfumato.store.models import JobColumns
from sfumato.store.workers import WorkerRow

log = logging.getLogger("sfumato.worker")


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger, message, worker, exception."""

    def __init__(self, worker_id: str) -> None:
        super().__init__()
        self._worker_id = worker_id

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "worker": self._worker_id,
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_json_logging(worker_id: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(worker_id))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class Heartbeat:
    """Upserts this worker's row and renews its jobs' leases (`claimed_at` of its jobs of every kind) on a
    thread."""

    def __init__(self, db: Database, row: WorkerRow, every: float, tables: list[type[JobColumns]]) -> None:
        self._db = db
        self._tables = tables
        self._row = row
        self._every = every
        self._stopping = threading.Event()
        self.current_job: str | None = None
        self.jobs_done = 0

    def beat(self) -> None:
        now = datetime.now(UTC)
        with self._db.session() as s:
            row = s.get(WorkerRow, self._row.id)
            if row is None:
                row = WorkerRow(id=self._row.id, hostname=self._row.hostname, pid=self._row.pid, started_at=now)
                s.add(row)
            row.models, row.device, row.concurrency = self._row.models, self._row.device, self._row.concurrency
            row.current_job, row.jobs_done, row.last_seen = self.current_job, self.jobs_done, now
            for table in self._tables:  # every kind of job: the same lease
                s.execute(
                    update(table)
                    .where(table.worker == self._row.id, table.status == JobStatus.PENDING)
                    .values(claimed_at=now)
                )

    def start(self) -> None:
        self.beat()
        threading.Thread(target=self._loop, name="sfumato-heartbeat", daemon=True).start()

    def _loop(self) -> None:
        while not self._stopping.wait(self._every):
            try:
                self.beat()
            except Exception:
                log.exception("heartbeat failed")

    def tracked(self, run_job: Callable[[str, str], RunOutcome]) -> Callable[[str, str], RunOutcome]:
        def run(kind: str, job_id: str) -> RunOutcome:
            self.current_job = job_id
            try:
                return run_job(kind, job_id)
            finally:
                self.current_job = None
                self.jobs_done += 1

        return run


def hand_back_after_grace(runner: JobRunner, grace_seconds: float) -> None:
    """Celery's warm shutdown (SIGTERM) waits for the running job: give it `grace_seconds`, then hand it back
    (it stops at its next step, PENDING again, and the task publishes it anew for another worker)."""
    from celery.signals import worker_shutting_down

    def on_shutting_down(**_: object) -> None:
        timer = threading.Timer(grace_seconds, runner.hand_back_running)
        timer.daemon = True
        timer.start()

    worker_shutting_down.connect(on_shutting_down, weak=False)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def consume(
    settings: Settings,
    broker_url: str,
    db: Database,
    runner: JobRunner,
    model_ids: list[str],
    device: str,
    concurrency: int,
    lanes: tuple[Lane, ...],
) -> None:
    """Beat, and consume the queues of `model_ids` x `lanes` until stopped. The container (with `runner`) was
    built by the composition root (bootstrap/worker.py) with this worker's id and lease."""
    row = WorkerRow(
        id=runner.worker_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        models=model_ids,
        device=device,
        concurrency=concurrency,
    )
    heartbeat = Heartbeat(db, row, settings.worker_heartbeat_seconds, runner.kinds.tables())
    register_runner(heartbeat.tracked(runner.run))
    hand_back_after_grace(runner, settings.shutdown_grace_seconds)
    heartbeat.start()
    queues = [queue_for(m, lane) for lane in lanes for m in model_ids]
    log.info("worker %s serving models %s on %s, queues %s", runner.worker_id, ",".join(model_ids), device, queues)
    app = make_celery(broker_url, settings.visibility_timeout_seconds)
    # solo/threads: the models loaded above live in this process; a prefork pool would load them per child.
    worker = app.Worker(
        hostname=f"sfumato@{runner.worker_id}",
        queues=queues,
        concurrency=concurrency,
        pool="solo" if concurrency == 1 else "threads",
        loglevel=settings.log_level.upper(),
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        redirect_stdouts=False,
    )
    worker.start()
