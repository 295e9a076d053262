"""The composition root's worker side: `sfumato worker` builds the engine and the container with this
worker's id and lease, preloads its models, then consumes (jobs/worker.py)."""

from __future__ import annotations

import logging
import time

from sfumato.bootstrap import build, build_engine
from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.worker import configure_json_logging, consume, worker_id
from sfumato.settings import Settings

log = logging.getLogger("sfumato.worker")


def run_worker(
    settings: Settings, model_ids: list[str], device: str, concurrency: int, lanes: tuple[Lane, ...] = tuple(Lane)
) -> None:
    broker_url = settings.broker_url
    if not broker_url:
        raise SystemExit("set SFUMATO_BROKER_URL (redis://... or amqp://...) to run a worker")
    me = worker_id()
    configure_json_logging(me, settings.log_level)
    settings = settings.model_copy(update={"device": device})
    engine = build_engine(settings)
    # A lease: other workers leave this one's jobs alone while its heartbeat renews them; user slots count.
    container = build(settings, engine=engine, worker_id=me, lease_seconds=settings.worker_dead_after_seconds)
    for model_id in model_ids:  # fail fast on an unknown id, before consuming anything
        entry = container.catalog.get(model_id)
        started = time.perf_counter()
        engine.preload(entry.path)  # type: ignore[attr-defined]
        log.info("preloaded model %s (%s) in %.2fs", model_id, entry.name, time.perf_counter() - started)
    consume(settings, broker_url, container.db, container.runner, model_ids, device, concurrency, lanes)
