"""What a handler works with (after InvokeAI's InvocationContext): its job's identity, progress that also
checks for a cancel and gives the engine to interactive jobs, a log, the files it reads and writes, and the
one way to finish (`complete`). The runner builds one per attempt."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from sfumato.jobs.core.events import JobEvents, JobLog, JobProgress, preview_png
from sfumato.store.files import FileStore

PROGRESS_EVERY_SECONDS = 0.25  # at most one progress row this often (plus the first and the last step)
CANCEL_CHECK_EVERY_SECONDS = 0.25  # a cancel is seen within this long of the next step


class JobCancelled(Exception):
    """Raised by `progress`/`check_cancelled` once a cancel was requested: the runner ends the job CANCELLED."""


class JobContext:
    def __init__(
        self,
        kind: str,
        job_id: str,
        user_id: str,
        files: FileStore,
        events: JobEvents,
        cancel_requested: Callable[[], bool],
        complete: Callable[[Callable[[Session, Any], None]], None],
        give_way: Callable[[], None] = lambda: None,
    ) -> None:
        self.kind, self.job_id, self.user_id = kind, job_id, user_id
        self.files = files
        self.log = logging.getLogger(f"sfumato.jobs.{kind}")
        self.written: list[str] = []  # keys this attempt wrote, so a lost race removes exactly these
        self._events = events
        self._cancel_requested = cancel_requested
        self._complete = complete
        self._give_way = give_way
        self._cancelled = False
        self._last_cancel_check = 0.0
        self._last_progress = 0.0

    # --- progress and cancel ---
    def progress(
        self, step: int, steps: int, preview: Image.Image | Callable[[], Image.Image | None] | None = None
    ) -> None:
        """After each step. Raises JobCancelled once a cancel was requested; on the long lane it first lets
        a waiting interactive job use the engine. `preview` may be a function: it is called only for the steps
        whose progress is written (the first, the last, and one every PROGRESS_EVERY_SECONDS)."""
        self._give_way()
        self.check_cancelled()
        now = time.monotonic()
        if step in (1, steps) or now - self._last_progress >= PROGRESS_EVERY_SECONDS:
            self._last_progress = now
            image = preview() if callable(preview) else preview
            png = preview_png(image) if image is not None else None
            self._events.publish_later(self.kind, self.job_id, self.user_id, JobProgress(step, steps, png))

    def cancelled(self) -> bool:
        if not self._cancelled:
            now = time.monotonic()
            if now - self._last_cancel_check >= CANCEL_CHECK_EVERY_SECONDS:
                self._last_cancel_check = now
                self._cancelled = self._cancel_requested()
        return self._cancelled

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def note(self, message: str) -> None:
        """A log line for the job's event stream (and the process log)."""
        self.log.info("%s %s: %s", self.kind, self.job_id, message)
        self._events.publish_later(self.kind, self.job_id, self.user_id, JobLog(message))

    def flush(self) -> None:
        """Wait until this job's progress and log lines are written (before its end is, so `done` comes last)."""
        self._events.flush(self.job_id)

    # --- files ---
    def get(self, key: str) -> bytes:
        return self.files.get(key)

    def put(self, key: str, data: bytes) -> None:
        self.files.put(key, data)
        self.written.append(key)

    # --- the end ---
    def complete(self, record: Callable[[Session, Any], None]) -> None:
        """`record` writes the results on the row; the row turns COMPLETE in the same transaction. Raises
        JobDeleted (the row is gone) or JobSuperseded (it already finished some other way)."""
        self.flush()
        self._complete(record)
