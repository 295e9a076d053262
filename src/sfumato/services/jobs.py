"""Jobs of every kind, as the operator sees them: cancel one, read its events. (Users see their jobs through
their kind's own endpoints; a per-user progress stream will build on `events`.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfumato.jobs.core.events import EventRecord, JobDone, JobLog, JobProgress, JobStarted
from sfumato.jobs.core.runner import JobRunner
from sfumato.services.errors import InvalidRequest, NotFound


@dataclass(frozen=True)
class CancelView:
    kind: str
    job_id: str
    status: str  # CANCELLED, or still PENDING while its worker finishes the current step, or final already
    running_on: str | None
    was_final: bool

    @property
    def message(self) -> str:
        if self.was_final:
            return f"{self.kind} {self.job_id} is {self.status} already; nothing to cancel"
        if self.running_on:
            return f"{self.kind} {self.job_id}: cancel requested; it stops at its next step on {self.running_on}"
        return f"{self.kind} {self.job_id}: {self.status}"


@dataclass(frozen=True)
class EventView:
    seq: int
    at: datetime
    type: str  # started | progress | log | done
    detail: dict[str, object]

    def text(self) -> str:
        parts = " ".join(f"{k}={v}" for k, v in self.detail.items() if v is not None)
        return f"{self.seq}  {self.at.isoformat()}  {self.type}  {parts}".rstrip()


def _event_view(record: EventRecord) -> EventView:
    e = record.event
    if isinstance(e, JobStarted):
        return EventView(record.seq, record.at, "started", {"worker": e.worker, "attempt": e.attempt})
    if isinstance(e, JobProgress):
        detail: dict[str, object] = {"step": e.step, "steps": e.steps, "preview_bytes": len(e.preview_png or b"")}
        return EventView(record.seq, record.at, "progress", detail)
    if isinstance(e, JobLog):
        return EventView(record.seq, record.at, "log", {"message": e.message})
    assert isinstance(e, JobDone)
    return EventView(record.seq, record.at, "done", {"status": e.status, "reason": e.reason})


class Jobs:
    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    def _kind_of(self, job_id: str) -> str:
        spec = self._runner.find(job_id)
        if spec is None:
            raise NotFound(f"no job {job_id!r}: pass the id of a generation, variation or other job")
        return spec.name

    def cancel(self, job_id: str) -> CancelView:
        kind = self._kind_of(job_id)
        try:
            result = self._runner.cancel(kind, job_id)
        except ValueError as exc:
            raise InvalidRequest(str(exc)) from None
        return CancelView(result.kind, result.job_id, result.status, result.running_on, result.was_final)

    def events(self, job_id: str, after: int = 0) -> list[EventView]:
        self._kind_of(job_id)
        return [_event_view(r) for r in self._runner.events.read(job_id, after)]
