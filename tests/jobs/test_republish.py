"""The broker side of scale-out against the machine's real brokers (Redis and RabbitMQ, each test on both):
queue depths read from the broker, and jobs whose message is missing published again, once.

"Down" is a broker URL on a port where nothing listens: the publish really fails there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sfumato.jobs.broker import queue_depths, safe_broker_url
from sfumato.jobs.celery_app import TASK_NAME, make_celery, queue_for_model
from sfumato.jobs.celery_dispatch import CeleryDispatcher
from sfumato.jobs.dispatch import JobKind
from sfumato.jobs.republish import Republisher
from sfumato.services.generations import GenerationParams
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import Generation
from sfumato.testing.jobs import builtin_kinds, make_runner
from tests.jobs.support import FlatEngine, job_world
from tests.scaleout.harness import BROKERS, scratch_broker
from tests.support import TINY_MODEL_ID, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.scaleout]
AFTER = 1.0  # republish after this many seconds


@pytest.fixture(params=BROKERS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def broker_url(kind: str) -> Iterator[str]:
    with scratch_broker(kind) as url:
        yield url


def dead_url(kind: str) -> str:
    port = free_port()
    return f"redis://127.0.0.1:{port}/0" if kind == "redis" else f"amqp://guest:guest@127.0.0.1:{port}//"


def purge(url: str, model_id: str) -> None:
    """Lose the queue's messages, as a broker restarted without persistence does."""
    app = make_celery(url, 60)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue_for_model(model_id))
    app.close()


def test_queue_depths_count_the_messages_waiting_per_model(broker_url: str) -> None:
    app = make_celery(broker_url, 60)
    try:
        assert queue_depths(app, ["model-a", "model-b"]) == {"model-a": 0, "model-b": 0}  # never seen: 0
        for _ in range(3):
            app.send_task(TASK_NAME, args=["generation", "x"], queue=queue_for_model("model-a"))
        # AMQP publishes are asynchronous (no publisher confirms): the count, read on another connection, may
        # lag the sends by a moment; it must reach exactly 3 and stay there
        deadline = time.monotonic() + 5.0
        while (depths := queue_depths(app, ["model-a", "model-b"]))["model-a"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert depths == {"model-a": 3, "model-b": 0}
    finally:
        app.close()


def test_queue_depths_raise_quickly_when_the_broker_is_down(kind: str) -> None:
    app = make_celery(dead_url(kind), 60)
    started = time.monotonic()
    with pytest.raises(Exception):  # noqa: B017 — the transport's own connection error
        queue_depths(app, ["model-a"])
    assert time.monotonic() - started < 15
    app.close()


def test_the_broker_password_is_hidden() -> None:
    assert safe_broker_url("amqp://guest:secret@rabbit:5672//") == "amqp://guest:***@rabbit:5672//"
    assert safe_broker_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_job_the_broker_never_got_is_published_again_once(
    tmp_path: Path, tiny_catalog: Path, kind: str, broker_url: str
) -> None:
    down = dead_url(kind)

    def dispatcher(db: Database, url: str) -> CeleryDispatcher:
        return CeleryDispatcher(make_celery(url, 60), db, builtin_kinds(db, LocalFileStore(tmp_path), FlatEngine()))

    with job_world(tmp_path, tiny_catalog, lambda db: dispatcher(db, down)) as w:
        job = w["generations"].create(w["user"], None, GenerationParams(prompt="x", width=64, height=64))
        with w["db"].session() as s:
            assert s.get(Generation, job).published_at is None  # accepted, not published
        live = dispatcher(w["db"], broker_url)
        kinds = builtin_kinds(w["db"], w["files"], FlatEngine())
        still_down = Republisher(w["db"], kinds, dispatcher(w["db"], down), AFTER, 4.0)
        again = Republisher(w["db"], kinds, live, AFTER, 4.0)
        assert again.sweep(datetime.now(UTC)) == []  # too young: its API host may still be publishing it
        time.sleep(AFTER + 0.2)
        assert still_down.sweep(datetime.now(UTC)) == []  # the broker is still down: nothing published, nothing raised
        assert again.sweep(datetime.now(UTC)) == [job]
        assert live.queue_depths([TINY_MODEL_ID]) == {TINY_MODEL_ID: 1}
        time.sleep(AFTER + 0.2)
        assert again.sweep(datetime.now(UTC)) == []  # its message waits in the queue: no second copy
        assert live.queue_depths([TINY_MODEL_ID]) == {TINY_MODEL_ID: 1}
        purge(broker_url, TINY_MODEL_ID)
        assert again.sweep(datetime.now(UTC)) == [job]  # the queue is empty, the job unclaimed: the message was lost
        assert live.queue_depths([TINY_MODEL_ID]) == {TINY_MODEL_ID: 1}
        # A job a live worker holds is never published again, whatever the queue says.
        worker = make_runner(w["db"], w["files"], FlatEngine(), worker_id="host:1", lease_seconds=4.0)
        assert isinstance(worker.claim(JobKind.GENERATION, job).row, Generation)
        purge(broker_url, TINY_MODEL_ID)
        time.sleep(AFTER + 0.2)
        assert again.sweep(datetime.now(UTC)) == []
        live.app.close()
