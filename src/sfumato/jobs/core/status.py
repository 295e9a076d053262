"""The vocabulary of jobs: where a job stands (JobStatus), what a claim found (ClaimResult) and what a run
tells its dispatcher (RunOutcome). Statuses are stored as these strings."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar


class JobStatus(StrEnum):
    PENDING = "PENDING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # only kinds registered as cancellable reach it

    @property
    def terminal(self) -> bool:
        return self is not JobStatus.PENDING

    @property
    def on_wire(self) -> str:
        """Leonardo's JobStatus has PENDING, COMPLETE and FAILED only (the SDKs reject anything else), so a
        cancelled job reads FAILED to a Leonardo client, with its reason saying it was cancelled."""
        return JobStatus.FAILED.value if self is JobStatus.CANCELLED else self.value


def wire_status(stored: str) -> str:
    """A stored status as Leonardo's clients may see it."""
    return JobStatus(stored).on_wire


class RunOutcome(StrEnum):
    """What one delivery of a job came to, for the dispatcher: done (whatever the job's status), or deliver
    it again a little later (the user's concurrency slots are full, or another live worker holds it)."""

    DONE = "done"
    RETRY_LATER = "retry-later"


Row = TypeVar("Row")


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # the row is this worker's now: run it
    RETRY_LATER = "retry-later"  # not yet (slots full, or held by another live worker)
    SKIP = "skip"  # nothing to do: gone, already finished, cancelled or given up


@dataclass(frozen=True)
class ClaimResult(Generic[Row]):
    outcome: ClaimOutcome
    row: Row | None = None

    @property
    def claimed(self) -> bool:
        return self.outcome is ClaimOutcome.CLAIMED
