"""How a job reaches a worker. The API only calls `submit`; the embedded default runs jobs on a thread in
this process, and a Celery dispatcher can implement the same interface for many machines."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    GENERATION = "generation"
    VARIATION = "variation"  # upscale / unzoom / no-background of a generated image (jobs/variation_runner.py)


# A handler returns RETRY_LATER when the job may not start yet (its user's concurrency slots are full, or
# another live worker holds it): the dispatcher delivers it again a little later. Anything else: done.
RETRY_LATER = "retry-later"
JobHandler = Callable[[str], object]
# Returns the (kind, id) of every job the database still has as PENDING, oldest first.
PendingJobs = Callable[[], list[tuple[JobKind, str]]]


class Dispatcher(Protocol):
    def submit(self, kind: JobKind, job_id: str) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class InProcessDispatcher:
    """One worker thread (inference uses every core anyway). On start, and then every `sweep_seconds`,
    it re-enqueues jobs the database says are PENDING: so a job whose process died mid-run, or whose
    submit was lost, runs after a restart and never stays PENDING forever."""

    def __init__(
        self, handlers: dict[JobKind, JobHandler], pending_jobs: PendingJobs, sweep_seconds: float = 30.0
    ) -> None:
        self._handlers = handlers
        self._pending_jobs = pending_jobs
        self._sweep_seconds = sweep_seconds
        self._queue: queue.Queue[tuple[JobKind, str] | None] = queue.Queue()
        # Jobs queued or running; guards against the sweep queueing a job twice.
        self._known: set[tuple[JobKind, str]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, kind: JobKind, job_id: str) -> None:
        with self._lock:
            if (kind, job_id) in self._known:
                return
            self._known.add((kind, job_id))
        self._queue.put((kind, job_id))

    def start(self) -> None:
        self._stopping.clear()
        self._sweep()
        worker = threading.Thread(target=self._work, name="sfumato-worker", daemon=True)
        sweeper = threading.Thread(target=self._sweep_loop, name="sfumato-sweeper", daemon=True)
        self._threads = [worker, sweeper]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        for t in self._threads:
            t.join(timeout=5)

    def _retry_later(self, item: tuple[JobKind, str], delay: float = 1.0) -> None:
        def again() -> None:  # `_work` has already forgotten the item, so submit queues it once
            if not self._stopping.is_set():
                self.submit(*item)

        timer = threading.Timer(delay, again)
        timer.daemon = True
        timer.start()

    def idle(self) -> bool:
        with self._lock:
            return not self._known

    def _sweep(self) -> None:
        try:
            for kind, job_id in self._pending_jobs():
                self.submit(kind, job_id)
        except Exception:
            log.exception("could not list pending jobs")

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self._sweep_seconds):
            self._sweep()

    def _work(self) -> None:
        while not self._stopping.is_set():
            item = self._queue.get()
            if item is None:
                return
            kind, job_id = item
            try:
                if self._handlers[kind](job_id) == RETRY_LATER:
                    self._retry_later(item)
            except Exception:
                # The runner records failures itself; this only guards the thread.
                log.exception("job %s %s raised", kind, job_id)
            finally:
                with self._lock:
                    self._known.discard(item)
