"""How a job reaches a worker. Services only call `submit(kind, id)`; the embedded default runs jobs on
threads in this process, one per lane, and the Celery dispatcher (jobs/celery_dispatch.py) implements the
same interface for many machines."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.core.status import RunOutcome

log = logging.getLogger(__name__)

# After the grace period: how long stop() waits for running jobs to reach their next step and hand back.
HAND_BACK_WAIT_SECONDS = 30.0


class JobKind(StrEnum):
    """The kinds this server ships (a plugin may register more: jobs/core/kinds.py takes any name)."""

    GENERATION = "generation"
    VARIATION = "variation"  # upscale / unzoom / no-background of a generated image


# Runs one delivery of a job (JobRunner.run); RETRY_LATER asks for the job to be delivered again later.
RunJob = Callable[[str, str], RunOutcome]
# Returns the (kind, id) of every job the database still has as PENDING, oldest first.
PendingJobs = Callable[[], list[tuple[str, str]]]


class Dispatcher(Protocol):
    def submit(self, kind: str, job_id: str) -> None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def check(self) -> None:
        """Raise (saying why) unless submitted jobs will be run: readiness probes call it."""
        ...


class InProcessDispatcher:
    """A worker thread per lane (interactive, long), so a long job never holds up a generation; inference
    shares the engine through the runner's gate (jobs/core/lanes.py). On start, and then every
    `sweep_seconds`, it re-enqueues jobs the database says are PENDING: so a job whose process died mid-run,
    or whose submit was lost, runs after a restart and never stays PENDING forever."""

    def __init__(
        self,
        run: RunJob,
        pending_jobs: PendingJobs,
        lane_of: Callable[[str], Lane] = lambda kind: Lane.INTERACTIVE,
        sweep_seconds: float = 30.0,
        hand_back: Callable[[], None] = lambda: None,
        grace_seconds: float = 15.0,
    ) -> None:
        self._run = run
        self._pending_jobs = pending_jobs
        self._lane_of = lane_of
        self._sweep_seconds = sweep_seconds
        self._hand_back = hand_back
        self._grace_seconds = grace_seconds
        self._queues: dict[Lane, queue.Queue[tuple[str, str] | None]] = {lane: queue.Queue() for lane in Lane}
        # Jobs queued or running; guards against the sweep queueing a job twice.
        self._known: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def submit(self, kind: str, job_id: str) -> None:
        item = (str(kind), job_id)
        with self._lock:
            if item in self._known:
                return
            self._known.add(item)
        self._queues[self._lane_of(item[0])].put(item)

    def start(self) -> None:
        self._stopping.clear()
        self._sweep()
        workers = [
            threading.Thread(target=self._work, args=(lane,), name=f"sfumato-worker-{lane}", daemon=True)
            for lane in Lane
        ]
        sweeper = threading.Thread(target=self._sweep_loop, name="sfumato-sweeper", daemon=True)
        self._threads = [*workers, sweeper]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        """Graceful: no job starts any more (queued ones stay PENDING in the database and run after a
        restart); running jobs get `grace_seconds` to finish, then are handed back at their next step."""
        self._stopping.set()
        for q in self._queues.values():
            q.put(None)
        deadline = time.monotonic() + self._grace_seconds
        for t in self._threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            self._hand_back()
            for t in self._threads:
                t.join(timeout=HAND_BACK_WAIT_SECONDS)

    def check(self) -> None:
        dead = [t.name for t in self._threads if not t.is_alive()]
        if not self._threads or self._stopping.is_set():
            raise RuntimeError("the in-process workers are not running")
        if dead:
            raise RuntimeError(f"in-process worker threads died: {', '.join(dead)}")

    def _retry_later(self, item: tuple[str, str], delay: float = 1.0) -> None:
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

    def _work(self, lane: Lane) -> None:
        jobs = self._queues[lane]
        while not self._stopping.is_set():
            item = jobs.get()
            if item is None:
                return
            try:
                if self._run(*item) == RunOutcome.RETRY_LATER:
                    self._retry_later(item)
            except Exception:
                # The runner records failures itself; this only guards the thread.
                log.exception("job %s %s raised", *item)
            finally:
                with self._lock:
                    self._known.discard(item)
