"""Typed job events (after Cog's eventtypes.py): started, progress, log, done. Workers publish them to the
database, the one place the embedded default, every API host and every Celery worker can all reach; readers
(`sfumato jobs events`, the API's progress stream) need not know which worker ran the job. `seq` only grows,
so a reader resumes after the last one it saw."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image
from sqlalchemy import delete, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from sfumato.store.database import Database
from sfumato.store.models import JobEvent

PREVIEW_SIDE = 128  # previews are thumbnails: small enough to write on every throttled progress event
FLUSH_TIMEOUT_SECONDS = 30.0  # a job's end waits this long at most for its queued events (the writer is stuck)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobStarted:
    worker: str
    attempt: int


@dataclass(frozen=True)
class JobProgress:
    step: int
    steps: int
    preview_png: bytes | None = None


@dataclass(frozen=True)
class JobLog:
    message: str


@dataclass(frozen=True)
class JobDone:
    status: str  # COMPLETE | FAILED | CANCELLED
    reason: str | None = None


Event = JobStarted | JobProgress | JobLog | JobDone


@dataclass(frozen=True)
class EventRecord:
    seq: int
    job_id: str
    kind: str
    at: datetime
    event: Event


def preview_png(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    buf = io.BytesIO()
    small.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _row(kind: str, job_id: str, user_id: str, event: Event) -> JobEvent:
    row = JobEvent(job_id=job_id, kind=kind, user_id=user_id, created_at=datetime.now(UTC))
    match event:
        case JobStarted(worker=worker, attempt=attempt):
            row.type, row.message, row.step = "started", worker, attempt
        case JobProgress(step=step, steps=steps, preview_png=png):
            row.type, row.step, row.steps, row.preview = "progress", step, steps, png
        case JobLog(message=message):
            row.type, row.message = "log", message
        case JobDone(status=status, reason=reason):
            row.type, row.status, row.message = "done", status, reason
    return row


def _event(row: JobEvent) -> Event:
    if row.type == "started":
        return JobStarted(row.message or "", row.step or 0)
    if row.type == "progress":
        return JobProgress(row.step or 0, row.steps or 0, row.preview)
    if row.type == "log":
        return JobLog(row.message or "")
    return JobDone(row.status or "", row.message)


FINISHING_FOR_SECONDS = 10.0  # a job past its last step that has not ended by then is not "finishing" any more


class JobEvents:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.Lock()
        self._finishing: dict[str, float] = {}  # job id -> when this process published its last step
        # Events queued by `publish_later`, written in order by one writer thread (started on first use).
        self._queue: deque[tuple[str, str, str, Event]] = deque()
        self._outstanding: dict[str, int] = {}  # job id -> its events queued or being written
        self._written = threading.Condition()
        self._writer: threading.Thread | None = None

    def add(self, s: Session, kind: str, job_id: str, user_id: str, event: Event) -> None:
        """Inside a caller's transaction (a claim writes `started`, a transition writes `done`)."""
        s.add(_row(kind, job_id, user_id, event))
        if isinstance(event, JobDone):
            self._finishing.pop(job_id, None)
        if job_id in self._listeners:  # readers learn of it once it is committed, not before
            sa_event.listen(s, "after_commit", lambda _: self._wake(job_id), once=True)

    def publish(self, kind: str, job_id: str, user_id: str, event: Event) -> None:
        self._write(kind, job_id, user_id, event)
        self._note_finishing(job_id, event)

    def _write(self, kind: str, job_id: str, user_id: str, event: Event) -> None:
        with self._db.session() as s:
            self.add(s, kind, job_id, user_id, event)

    def _note_finishing(self, job_id: str, event: Event) -> None:
        """When the job emits its last step (not when the event is written): its end is moments away."""
        if isinstance(event, JobProgress) and event.step >= event.steps:
            self._finishing[job_id] = time.monotonic()

    def publish_later(self, kind: str, job_id: str, user_id: str, event: Event) -> None:
        """`publish`, on this object's writer thread: a running job's progress and log lines cost its thread no
        database commit (a few ms each, ~3% of a short generation's time). Events are written in the order they
        were queued; a job's end calls `flush` first, so its `done` comes after all of them."""
        with self._written:
            self._queue.append((kind, job_id, user_id, event))
            self._outstanding[job_id] = self._outstanding.get(job_id, 0) + 1
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_queued, name="sfumato-job-events", daemon=True)
                self._writer.start()
            self._written.notify_all()
        self._note_finishing(job_id, event)

    def flush(self, job_id: str) -> None:
        """Wait until every event queued for `job_id` is written. Call it outside any transaction: on SQLite
        the writer needs the write lock that an open transaction may hold."""
        deadline = time.monotonic() + FLUSH_TIMEOUT_SECONDS
        with self._written:
            while self._outstanding.get(job_id) and time.monotonic() < deadline:
                self._written.wait(timeout=max(0.0, deadline - time.monotonic()))

    def _write_queued(self) -> None:
        while True:
            with self._written:
                while not self._queue:
                    self._written.wait()
                kind, job_id, user_id, event = self._queue[0]
            try:
                self._write(kind, job_id, user_id, event)
            except Exception:  # an event is a courtesy: a failed write never stops the writer or the job
                log.warning("could not write a %s event of job %s", type(event).__name__, job_id, exc_info=True)
            with self._written:
                self._queue.popleft()
                left = self._outstanding.get(job_id, 1) - 1
                if left:
                    self._outstanding[job_id] = left
                else:
                    self._outstanding.pop(job_id, None)
                self._written.notify_all()

    def finishing(self, job_id: str) -> bool:
        """Whether a job running in this process has published its last step and not ended yet: its end (the
        decode, the files, COMPLETE) is moments away. Jobs of other processes are never finishing here."""
        since = self._finishing.get(job_id)
        if since is not None and time.monotonic() - since > FINISHING_FOR_SECONDS:
            self._finishing.pop(job_id, None)  # it ended elsewhere, or was handed back: stop waiting for it
            return False
        return since is not None

    def subscribe(self, job_id: str, wake: Callable[[], None]) -> Callable[[], None]:
        """`wake` is called, from the writing thread, after each event of `job_id` that this process commits, so a
        reader here need not wait for its next poll. Events that other processes (Celery workers) write are seen
        by polling only. Returns the function that unsubscribes."""
        with self._lock:
            self._listeners.setdefault(job_id, []).append(wake)

        def unsubscribe() -> None:
            with self._lock:
                waiting = self._listeners.get(job_id, [])
                if wake in waiting:
                    waiting.remove(wake)
                if not waiting:
                    self._listeners.pop(job_id, None)

        return unsubscribe

    def _wake(self, job_id: str) -> None:
        with self._lock:
            waiting = list(self._listeners.get(job_id, ()))
        for wake in waiting:
            wake()

    def forget(self, job_id: str) -> None:
        """Delete every event of a job whose row is gone."""
        with self._db.session() as s:
            delete_events(s, [job_id])

    def read(self, job_id: str, after: int = 0) -> list[EventRecord]:
        with self._db.session() as s:
            rows = s.scalars(
                select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after).order_by(JobEvent.id)
            ).all()
            return [EventRecord(r.id, r.job_id, r.kind, r.created_at, _event(r)) for r in rows]


def delete_events(s: Session, job_ids: list[str]) -> None:
    """With the jobs they tell of (a deleted generation takes its variations' events too)."""
    if job_ids:
        s.execute(delete(JobEvent).where(JobEvent.job_id.in_(job_ids)))
