"""What `sfumato status` reports: the workers (alive or not, the models each serves, the job it runs), and
per model the queue depth twice, as the database sees it (PENDING jobs no live worker holds) and as the
broker sees it (messages waiting in the model's queue), plus the jobs in flight. The two depths differ on
purpose: a job whose message was lost (or never published) is queued in the database but not in the
broker until the reaper publishes it again; a broker may hold retries of jobs waiting for a slot."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sfumato.jobs.core.kinds import JobKinds
from sfumato.jobs.core.runner import aware
from sfumato.jobs.reaper import list_workers
from sfumato.store.database import Database


class QueueReader(Protocol):
    def queue_depths(self, model_ids: Iterable[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class RunningJob:
    id: str
    kind: str
    model_id: str
    worker: str | None
    claimed_at: str


def cluster_status(
    db: Database,
    kinds: JobKinds,
    dead_after: float,
    broker: QueueReader | None,
    broker_url: str | None,
    known_models: Iterable[str] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON of `sfumato status --json`. `broker` None: the embedded default (no broker to ask)."""
    now = now or datetime.now(UTC)
    workers = list_workers(db, dead_after, now)
    fresh = now - timedelta(seconds=dead_after)
    queued: dict[str, int] = {}
    in_flight: dict[str, int] = {}
    running: list[RunningJob] = []
    with db.session() as s:
        for spec in kinds:
            for job_id, model_id, _, claimed_at, _, worker in s.execute(spec.pending_with_model()).all():
                if claimed_at is not None and aware(claimed_at) > fresh:
                    in_flight[model_id] = in_flight.get(model_id, 0) + 1
                    running.append(RunningJob(job_id, spec.name, model_id, worker, aware(claimed_at).isoformat()))
                else:
                    queued[model_id] = queued.get(model_id, 0) + 1
    models = sorted({*known_models, *queued, *in_flight, *(m for w in workers for m in w.models)})
    broker_depth: dict[str, int] | None = None
    broker_error: str | None = None
    if broker is not None:
        try:
            broker_depth = broker.queue_depths(models)
        except Exception as exc:  # the database half is still worth printing
            broker_error = f"{type(exc).__name__}: {exc}"
    per_model = {
        m: {
            "queued_db": queued.get(m, 0),
            "queued_broker": None if broker_depth is None else broker_depth.get(m, 0),
            "in_flight": in_flight.get(m, 0),
            "workers_alive": sum(1 for w in workers if w.alive and m in w.models),
        }
        for m in models
    }
    return {
        "broker": broker_url,
        "broker_error": broker_error,
        "workers": [
            {
                "id": w.id,
                "alive": w.alive,
                "models": w.models,
                "device": w.device,
                "concurrency": w.concurrency,
                "current_job": w.current_job,
                "jobs_done": w.jobs_done,
                "last_seen": w.last_seen.isoformat(),
            }
            for w in workers
        ],
        "models": per_model,
        "queue_depth": queued,  # database: PENDING, no live worker holds it
        "broker_queue_depth": broker_depth,  # broker: messages waiting; None without a broker or when down
        "in_flight": in_flight,
        "jobs_in_flight": len(running),
        "running_jobs": [asdict(j) for j in running],
    }


def status_text(data: dict[str, Any]) -> str:
    lines = [f"broker: {data['broker'] or 'none (embedded worker)'}"]
    if data["broker_error"]:
        lines.append(f"  UNREACHABLE: {data['broker_error']}")
    lines.append("workers:")
    lines += [
        f"  {w['id']}  {'alive' if w['alive'] else 'DEAD '}  {w['device']}  models={','.join(w['models'])}"
        f"  job={w['current_job'] or '-'}  done={w['jobs_done']}"
        for w in data["workers"]
    ] or ["  (none)"]
    lines.append("queue depth per model (database / broker), in flight, live workers:")
    for model_id, m in data["models"].items():
        broker = "-" if m["queued_broker"] is None else m["queued_broker"]
        lines.append(
            f"  {model_id}  {m['queued_db']} / {broker}  in flight {m['in_flight']}  workers {m['workers_alive']}"
        )
    if not data["models"]:
        lines.append("  (no models)")
    lines.append(f"jobs in flight: {data['jobs_in_flight']}")
    lines += [f"  {j['kind']} {j['id']}  model {j['model_id']}  on {j['worker']}" for j in data["running_jobs"]]
    return "\n".join(lines)
