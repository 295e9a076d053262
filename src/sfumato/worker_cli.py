"""Scale-out commands: `sfumato worker`, `sfumato reaper`, `sfumato status`, `sfumato users set`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import func, select

from sfumato.bootstrap import Container, build
from sfumato.services.errors import SfumatoError
from sfumato.settings import Settings
from sfumato.store.models import Generation

# Self-contained (no import of sfumato.cli, which may be __main__): cli.py calls `register`.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _container() -> Container:
    return build(Settings())


def _fail(exc: SfumatoError) -> None:
    typer.secho(f"error: {exc.message}", fg="red", err=True)
    raise typer.Exit(code=1)


def _emit(as_json: bool, data: dict, text: str) -> None:
    typer.echo(json.dumps(data) if as_json else text)


def worker(
    models: Annotated[str, typer.Option("--models", help="Comma list of model ids this worker serves.")],
    device: Annotated[str | None, typer.Option(help="Torch device: cuda:N or cpu (SFUMATO_DEVICE).")] = None,
    concurrency: Annotated[int, typer.Option(help="Jobs run at once (threads; 1 per GPU is usual).")] = 1,
) -> None:
    """Run a Celery worker: preload the models, consume one queue per model (needs SFUMATO_BROKER_URL)."""
    from sfumato.jobs.worker import run_worker

    settings = Settings()
    model_ids = [m.strip() for m in models.split(",") if m.strip()]
    if not model_ids:
        raise typer.BadParameter("give at least one model id (sfumato models list shows them)")
    try:
        run_worker(settings, model_ids, device or settings.device, max(1, concurrency))
    except SfumatoError as exc:
        _fail(exc)


def reaper() -> None:
    """Fail jobs whose model no live worker serves (API hosts in Celery mode already run one each)."""
    from sfumato.jobs.reaper import Reaper

    c = _container()
    s = c.settings
    Reaper(c.db, c.runner, s.unserved_model_timeout_seconds, s.reaper_interval_seconds,
           s.worker_dead_after_seconds).run_forever()  # fmt: skip


def status(as_json: JsonFlag = False) -> None:
    """Workers (alive or not, models, device, current job), queue depth per model, jobs in flight."""
    from sfumato.jobs.reaper import aware, list_workers

    c = _container()
    now = datetime.now(UTC)
    workers = list_workers(c.db, c.settings.worker_dead_after_seconds, now)
    fresh = now - timedelta(seconds=c.settings.worker_dead_after_seconds)
    with c.db.session() as s:
        rows = s.execute(
            select(Generation.model_id, Generation.claimed_at, func.count())
            .where(Generation.status == "PENDING").group_by(Generation.model_id, Generation.claimed_at)
        ).all()  # fmt: skip
    queued: dict[str, int] = {}
    running: dict[str, int] = {}
    for model_id, claimed_at, count in rows:
        target = running if claimed_at is not None and aware(claimed_at) > fresh else queued
        target[model_id] = target.get(model_id, 0) + count
    data = {
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
        ],  # fmt: skip
        "queue_depth": queued,
        "in_flight": running,
        "jobs_in_flight": sum(running.values()),
    }
    lines = ["workers:"] + [
        f"  {w['id']}  {'alive' if w['alive'] else 'DEAD '}  {w['device']}  models={','.join(w['models'])}"
        f"  job={w['current_job'] or '-'}  done={w['jobs_done']}" for w in data["workers"]
    ]  # fmt: skip
    lines.append("queue depth per model:")
    lines += [f"  {m}  {n}" for m, n in sorted(queued.items())] or ["  (empty)"]
    lines.append(f"jobs in flight: {data['jobs_in_flight']}")
    _emit(as_json, data, "\n".join(lines))


def users_set(
    name: str,
    slots: Annotated[int, typer.Option("--slots", help="apiConcurrencySlots: the user's jobs run at once.")],
    as_json: JsonFlag = False,
) -> None:
    """Change a user's limits."""
    from sfumato.services.limits import set_concurrency_slots

    try:
        user_id = set_concurrency_slots(_container().db, name, slots)
    except SfumatoError as exc:
        _fail(exc)
        return
    _emit(as_json, {"user_id": user_id, "api_concurrency_slots": slots}, f"user {name}: {slots} slots")


def register(app: typer.Typer, users_app: typer.Typer) -> None:
    # Called by cli.py on its own Typer apps (they differ from an import's when run as `python -m`).
    for command in (worker, reaper, status):
        app.command()(command)
    users_app.command("set")(users_set)
