"""What operators and their probes ask of a running server: is it ready (database, storage, broker, the default
model), and what is it doing (jobs by kind and status, queue depth, job latency, webhook deliveries). Read from
the database, so every API host reports the whole deployment, workers on other machines included."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from sfumato.jobs.core.kinds import JobKinds
from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import Dispatcher
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.models import WebhookDelivery

LATENCY_WINDOW = timedelta(minutes=15)  # job latency quantiles are over the jobs finished this recently
QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class JobLatency:
    kind: str
    count: int  # jobs finished in the window
    quantiles: dict[float, float]  # seconds from creation to the final status


class Operations:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        dispatcher: Dispatcher,
        kinds: JobKinds,
        model_ready: Callable[[], str | None],
    ) -> None:
        """`model_ready`: None when the default model can serve at once, else why not (bootstrap knows how:
        loaded in this process, or consumed by a live worker)."""
        self._db = db
        self._files = files
        self._dispatcher = dispatcher
        self._kinds = kinds
        self._model_ready = model_ready

    def readiness(self) -> list[Check]:
        def database() -> str | None:
            with self._db.session() as s:
                s.execute(text("SELECT 1"))
            return None

        def storage() -> str | None:
            self._files.check()
            return None

        def broker() -> str | None:
            self._dispatcher.check()
            return None

        probes: list[tuple[str, Callable[[], str | None]]] = [
            ("database", database),
            ("storage", storage),
            ("broker", broker),
            ("model", self._model_ready),
        ]
        return [_run_check(name, probe) for name, probe in probes]

    def job_counts(self) -> dict[tuple[str, str], int]:
        """(kind, status) -> number of jobs, every kind registered, every status (zeros included)."""
        counts = {(spec.name, status.value): 0 for spec in self._kinds for status in JobStatus}
        with self._db.session() as s:
            for spec in self._kinds:
                query = select(spec.table.status, func.count()).where(spec.mine()).group_by(spec.table.status)
                for status, n in s.execute(query):
                    counts[(spec.name, status)] = int(n)
        return counts

    def job_latencies(self, now: datetime | None = None) -> list[JobLatency]:
        since = (now or datetime.now(UTC)) - LATENCY_WINDOW
        out = []
        with self._db.session() as s:
            for spec in self._kinds:
                t = spec.table
                query = select(t.created_at, t.updated_at).where(
                    spec.mine(), t.status.in_([st.value for st in JobStatus if st.terminal]), t.updated_at >= since
                )
                spans = sorted(
                    max(0.0, (_aware(done) - _aware(created)).total_seconds()) for created, done in s.execute(query)
                )
                quantiles = {q: _quantile(spans, q) for q in QUANTILES} if spans else {}
                out.append(JobLatency(spec.name, len(spans), quantiles))
        return out

    def webhook_deliveries(self) -> dict[str, int]:
        """Outbox rows by status: pending (not yet delivered, retrying), delivered, failed (gave up)."""
        counts = {"pending": 0, "delivered": 0, "failed": 0}
        with self._db.session() as s:
            query = select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
            for status, n in s.execute(query):
                counts[status] = int(n)
        return counts


def _run_check(name: str, probe: Callable[[], str | None]) -> Check:
    started = time.perf_counter()
    try:
        problem = probe()
    except Exception as exc:  # a probe reports what failed, it never fails the probe endpoint itself
        problem = f"{type(exc).__name__}: {exc}"
    return Check(name, problem is None, problem or "ok", time.perf_counter() - started)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of an ascending list."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]
