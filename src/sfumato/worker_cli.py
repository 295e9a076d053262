"""Scale-out commands: `sfumato worker`, `sfumato reaper`, `sfumato status`, `sfumato users set`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sfumato.bootstrap import Container, build
from sfumato.services.errors import SfumatoError
from sfumato.settings import Settings

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
    """Fail jobs whose model no live worker serves and publish again jobs whose broker message is missing
    (API hosts in Celery mode already run one each)."""
    from sfumato.bootstrap import build_reaper
    from sfumato.jobs.celery_dispatch import CeleryDispatcher

    c = _container()
    if not isinstance(c.dispatcher, CeleryDispatcher):
        raise typer.BadParameter("set SFUMATO_BROKER_URL: the reaper serves Celery workers (redis:// or amqp://)")
    runners = [c.runner, c.variation_runner]
    build_reaper(c.settings, c.db, [r for r in runners if r is not None], c.dispatcher).run_forever()


def status(as_json: JsonFlag = False) -> None:
    """Workers (alive or not, models, device, current job), queue depth per model in the database and in the
    broker, jobs in flight."""
    from sfumato.jobs.broker import safe_broker_url
    from sfumato.jobs.celery_dispatch import CeleryDispatcher
    from sfumato.jobs.status import cluster_status, status_text

    c = _container()
    broker = c.dispatcher if isinstance(c.dispatcher, CeleryDispatcher) else None
    url = safe_broker_url(c.settings.broker_url) if c.settings.broker_url else None
    data = cluster_status(c.db, c.settings.worker_dead_after_seconds, broker, url,
                          [e.id for e in c.catalog.entries()])  # fmt: skip
    _emit(as_json, data, status_text(data))


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
