"""What the broker itself says about the model queues: how many "run job X" messages wait in each, not yet
delivered to a worker. Read through kombu (Celery's transport layer) the same way on both brokers: a passive
queue_declare, whose message_count is, on Redis, the LLEN of the queue's lists (kombu sums its priority
lists) and, on RabbitMQ, the queue's ready messages. Messages a worker holds unacknowledged are not counted."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from celery import Celery

from sfumato.jobs.celery_app import queue_for
from sfumato.jobs.core.lanes import Lane

CONNECT_TIMEOUT_SECONDS = 3.0


def queue_depths(
    app: Celery, model_ids: Iterable[str], timeout: float = CONNECT_TIMEOUT_SECONDS, lane: Lane = Lane.INTERACTIVE
) -> dict[str, int]:
    """Model id -> messages waiting in its queue of `lane`. A queue the broker has never seen (or, on Redis, an empty
    one: Redis drops empty lists) counts 0. Raises the transport's connection error if the broker is down."""
    depths: dict[str, int] = {}
    with app.connection_for_read(connect_timeout=timeout) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        for model_id in model_ids:
            # A channel per queue: RabbitMQ closes the channel on a passive declare of a missing queue.
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=queue_for(model_id, lane), passive=True)
                depths[model_id] = int(count)
            except conn.channel_errors:
                depths[model_id] = 0  # NOT_FOUND: nothing was ever queued there (or, Redis, nothing is now)
            finally:
                with contextlib.suppress(Exception):  # already closed by the broker after NOT_FOUND
                    channel.close()
    return depths


def safe_broker_url(url: str) -> str:
    """The broker URL without its password, for status output and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
