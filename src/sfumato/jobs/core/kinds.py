"""The registry of job kinds. A kind declares its table (any table with the JobColumns), its handler (the
work: execute, discard, failure_reason), how its jobs name their model (for queues and the reaper), its lane
and its finish hooks, in the order they run. Dispatch, claims, leases, the reaper, republishing, status and
the workers all read it: adding a kind is one handler module plus one `register` call (bootstrap/kinds.py)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Select, select, true
from sqlalchemy.orm import Session

from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.core.status import JobStatus
from sfumato.store.models import JobColumns

# Runs inside the transaction that finishes a job (COMPLETE, FAILED or CANCELLED): the webhook outbox hooks
# in here, so a result and its notification are committed together or not at all.
FinishHook = Callable[[Session, Any], None]


class JobHandler(Protocol):
    def execute(self, ctx: JobContext, row: Any) -> str | None:
        """The work; ends with `ctx.complete(record)`. Returns an optional note for the log line."""

    def discard(self, row: Any) -> None:
        """Remove whatever files this job wrote (it did not complete)."""

    def failure_reason(self, exc: Exception) -> str | None:
        """The user-facing reason for an error this kind knows; None for the generic one."""


HANDLER_PARTS = ("execute", "discard", "failure_reason")


class BatchHandler(JobHandler, Protocol):
    def execute_batch(self, ctxs: Sequence[JobContext], rows: Sequence[Any]) -> list[Exception | None]:
        """The work of several jobs in one engine call; each job still ends with its own `ctx.complete`.
        Returns, per job, None (completed) or the exception that ended it (the runner settles each alone)."""


@dataclass(frozen=True)
class Batching:
    """Which jobs of a kind may share one engine call (jobs/core/runner.py gathers them): those whose `key` is
    equal and not None (same model, size, steps...). `weight` is what a job adds to a batch (its images),
    counted against the runner's batch limit."""

    key: Callable[[Any], Hashable | None]
    weight: Callable[[Any], int] = field(default=lambda row: 1)


@dataclass(frozen=True)
class ModelOf:
    """How a kind's jobs name their model: a column (the kind's own, or a joined table's) and the join that
    reaches it. Celery queues are per model, and the reaper fails jobs whose model no worker serves."""

    column: Any
    join: Callable[[Select], Select] = field(default=lambda query: query)


@dataclass(frozen=True)
class JobKindSpec:
    name: str
    table: type[JobColumns]
    handler: JobHandler
    model_of: ModelOf
    lane: Lane = Lane.INTERACTIVE
    finish_hooks: tuple[FinishHook, ...] = ()
    cancellable: bool = True
    # Kinds that share a table (image and motion generations are both `generations`, so both list, poll and
    # delete alike) tell their rows apart by this column, whose value is the kind's name.
    discriminator: Any = None
    # Set when the handler is a BatchHandler: compatible PENDING jobs then run together.
    batching: Batching | None = None

    def mine(self) -> Any:
        """The SQL condition that selects this kind's rows of its table."""
        return self.discriminator == self.name if self.discriminator is not None else true()

    def owns(self, row: Any) -> bool:
        return self.discriminator is None or getattr(row, self.discriminator.key) == self.name

    def pending_with_model(self) -> Select:
        """PENDING rows as (id, model_id, created_at, claimed_at, published_at, worker)."""
        t = self.table
        query = select(t.id, self.model_of.column, t.created_at, t.claimed_at, t.published_at, t.worker)
        return self.model_of.join(query.select_from(t)).where(t.status == JobStatus.PENDING, self.mine())

    def model_of_job(self, job_id: str) -> Select:
        query = select(self.model_of.column).select_from(self.table)
        return self.model_of.join(query).where(self.table.id == job_id, self.mine())


class InvalidJobKind(TypeError):
    """A kind registered without one of its parts; the message names what is missing."""


def check_spec(spec: JobKindSpec) -> None:
    problems: list[str] = []
    if not spec.name or not spec.name.replace("-", "").replace("_", "").isalnum():
        problems.append(f"name {spec.name!r} must be a non-empty word (letters, digits, - or _)")
    if not (inspect.isclass(spec.table) and issubclass(spec.table, JobColumns) and hasattr(spec.table, "__table__")):
        problems.append("table must be a mapped table class with the JobColumns (store/models.py)")
    for part in HANDLER_PARTS:
        if not callable(getattr(spec.handler, part, None)):
            problems.append(f"handler {type(spec.handler).__name__} has no {part}()")
    if not isinstance(spec.model_of, ModelOf) or spec.model_of.column is None:
        problems.append("model_of must be a ModelOf naming the column that holds the job's model id")
    if not isinstance(spec.lane, Lane):
        problems.append(f"lane must be one of {', '.join(lane.value for lane in Lane)}")
    if spec.batching is not None and not callable(getattr(spec.handler, "execute_batch", None)):
        problems.append(f"handler {type(spec.handler).__name__} has no execute_batch(), which batching needs")
    if not all(callable(hook) for hook in spec.finish_hooks):
        problems.append("every finish hook must be callable as hook(session, row)")
    if problems:
        raise InvalidJobKind(f"job kind {spec.name!r}: " + "; ".join(problems))


class JobKinds:
    def __init__(self) -> None:
        self._specs: dict[str, JobKindSpec] = {}

    def register(self, spec: JobKindSpec) -> JobKindSpec:
        check_spec(spec)
        if spec.name in self._specs:
            raise InvalidJobKind(f"job kind {spec.name!r} is registered already")
        for other in self._specs.values():
            if other.table is spec.table and (other.discriminator is None or spec.discriminator is None):
                raise InvalidJobKind(
                    f"job kind {spec.name!r}: table {spec.table.__name__} belongs to kind {other.name!r}; kinds that "
                    "share a table both need a discriminator column"
                )
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> JobKindSpec:
        try:
            return self._specs[str(name)]
        except KeyError:
            raise KeyError(f"no job kind {name!r}; registered: {', '.join(self._specs)}") from None

    def __iter__(self) -> Iterator[JobKindSpec]:
        return iter(list(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return str(name) in self._specs

    def names(self) -> list[str]:
        return list(self._specs)

    def tables(self) -> list[type[JobColumns]]:
        """Each job table once (kinds may share one)."""
        return list(dict.fromkeys(spec.table for spec in self._specs.values()))

    def lane_of(self, name: str) -> Lane:
        return self.get(name).lane
