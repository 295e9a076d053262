"""Lanes: interactive jobs (generations, variations, LCM) and long ones (training, motion) each get their own
worker thread (in-process) or queues (Celery), and share the engine through a gate that puts interactive jobs
first, so an hour-long job never makes a generation wait longer than one of its steps."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    LONG = "long"


class EngineGate:
    """Who may use the engine now. Interactive jobs enter whenever no long job holds it; a long job enters
    only when no interactive job runs or waits, and gives way at each of its steps (`JobContext.progress`
    calls `yield_to_interactive`). Invariant: interactive and long holders are never inside together."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._interactive_running = 0
        self._interactive_waiting = 0
        self._long_running = 0

    @contextmanager
    def turn(self, lane: Lane) -> Iterator[None]:
        if lane is Lane.INTERACTIVE:
            self._enter_interactive()
            try:
                yield
            finally:
                self._leave(interactive=True)
        else:
            self._enter_long()
            try:
                yield
            finally:
                self._leave(interactive=False)

    def yield_to_interactive(self) -> None:
        """Called by a long job between steps: if an interactive job waits, step aside until none runs or
        waits, then carry on. Cheap when nobody waits."""
        with self._cond:
            if self._interactive_waiting == 0:
                return
            self._long_running -= 1
            self._cond.notify_all()
            self._cond.wait_for(self._long_may_enter)
            self._long_running += 1

    def _long_may_enter(self) -> bool:
        return self._interactive_running == 0 and self._interactive_waiting == 0

    def _enter_interactive(self) -> None:
        with self._cond:
            self._interactive_waiting += 1
            self._cond.wait_for(lambda: self._long_running == 0)
            self._interactive_waiting -= 1
            self._interactive_running += 1

    def _enter_long(self) -> None:
        with self._cond:
            self._cond.wait_for(self._long_may_enter)
            self._long_running += 1

    def _leave(self, interactive: bool) -> None:
        with self._cond:
            if interactive:
                self._interactive_running -= 1
            else:
                self._long_running -= 1
            self._cond.notify_all()
