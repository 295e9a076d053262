"""Scale-out commands (docs/deployment.md): `sfumato worker`, `sfumato reaper`, `sfumato status`."""

from __future__ import annotations

from typing import Annotated

import typer

from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly
from sfumato.settings import Settings


@fails_cleanly
def worker(
    models: Annotated[str, typer.Option("--models", help="Comma list of model ids this worker serves.")],
    device: Annotated[str | None, typer.Option(help="Torch device: cuda:N or cpu (SFUMATO_DEVICE).")] = None,
    concurrency: Annotated[int, typer.Option(help="Jobs run at once (threads; 1 per GPU is usual).")] = 1,
    lanes: Annotated[
        str, typer.Option(help="Comma list of lanes to serve: interactive (generations, variations), long.")
    ] = "interactive,long",
) -> None:
    """Run a Celery worker: preload the models, consume one queue per model and lane (needs SFUMATO_BROKER_URL)."""
    # Imported here: Celery and the worker's machinery load only for this command.
    from sfumato.bootstrap.worker import run_worker
    from sfumato.jobs.core.lanes import Lane

    names = [n.strip() for n in lanes.split(",") if n.strip()]
    if not names or any(n not in set(Lane) for n in names):
        raise typer.BadParameter(f"--lanes takes a comma list of {', '.join(Lane)}; got {lanes!r}")

    settings = Settings()
    model_ids = [m.strip() for m in models.split(",") if m.strip()]
    if not model_ids:
        raise typer.BadParameter("give at least one model id (sfumato models list shows them)")
    run_worker(settings, model_ids, device or settings.device, max(1, concurrency), tuple(Lane(n) for n in names))


def reaper() -> None:
    """Fail jobs whose model no live worker serves and publish again jobs whose broker message is missing
    (API hosts in Celery mode already run one each)."""
    from sfumato.bootstrap import build_reaper
    from sfumato.jobs.celery_dispatch import CeleryDispatcher

    c = container()
    if not isinstance(c.dispatcher, CeleryDispatcher):
        raise typer.BadParameter("set SFUMATO_BROKER_URL: the reaper serves Celery workers (redis:// or amqp://)")
    build_reaper(c.settings, c.db, c.runner, c.dispatcher).run_forever()


def status(as_json: JsonFlag = False) -> None:
    """Workers (alive or not, models, device, current job), queue depth per model in the database and in the
    broker, jobs in flight."""
    from sfumato.jobs.broker import safe_broker_url
    from sfumato.jobs.celery_dispatch import CeleryDispatcher
    from sfumato.jobs.status import cluster_status, status_text

    c = container()
    broker = c.dispatcher if isinstance(c.dispatcher, CeleryDispatcher) else None
    url = safe_broker_url(c.settings.broker_url) if c.settings.broker_url else None
    models = [e.id for e in c.catalog.entries()]
    data = cluster_status(c.db, c.runner.kinds, c.settings.worker_dead_after_seconds, broker, url, models)
    emit(as_json, data, status_text(data))
