"""No lost jobs when the broker fails: a Redis broker of the test's own (a real redis-server process on its
own port, nothing on disk) is stopped and started again under one API host and one worker on PostgreSQL.

- Jobs posted while the broker is down are accepted, stay PENDING with no publish recorded, and run once
  the broker is back (the API host's reaper publishes them again).
- A message the broker lost (restarted without persistence) before any worker took it is published again.
- Extra copies of a job's message never run it twice (the database claim)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from sfumato.jobs.celery_app import TASK_NAME, make_celery, queue_for_model
from sfumato.testing.cluster import Cluster, RedisServer, cluster_env, running_cluster, scratch_database, scratch_redis
from sfumato.testing.live_server import TINY_MODEL_ID, free_port

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(300)]

REPUBLISH_AFTER = 3
SMALL = {"prompt": "a red circle", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("broker") / "redis.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory, broker: RedisServer) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("outage")
    # Rate limits live in the machine's Redis: only the broker goes down here.
    with scratch_database("sfumato_outage") as pg, scratch_redis() as limits:
        env = cluster_env(
            root / "data",
            tiny_catalog,
            pg,
            broker.url,
            limits_redis=limits,
            SFUMATO_REPUBLISH_AFTER_SECONDS=str(REPUBLISH_AFTER),
            SFUMATO_UNSERVED_MODEL_TIMEOUT_SECONDS="600",
        )
        with running_cluster(env, root, pg, 1, [[TINY_MODEL_ID]]) as c:
            yield c


@pytest.fixture(scope="module")
def host(cluster: Cluster) -> httpx.Client:
    return cluster.apis[0].client("outage")


def job_rows(c: Cluster, table: str, ids: list[str]) -> dict[str, tuple]:
    """id -> (status, published_at, attempts, worker)."""
    rows = c.sql(f"SELECT id, status, published_at, attempts, worker FROM {table} WHERE id = ANY(%s)", ids)
    return {r[0]: r[1:] for r in rows}


def wait_complete(c: Cluster, table: str, ids: list[str], timeout: float = 120) -> dict[str, tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = job_rows(c, table, ids)
        if len(rows) == len(ids) and all(r[0] != "PENDING" for r in rows.values()):
            assert all(r[0] == "COMPLETE" for r in rows.values()), rows
            return rows
        time.sleep(0.3)
    raise AssertionError(f"{table} still PENDING after {timeout}s: {job_rows(c, table, ids)}\n{c.logs()[-5000:]}")


def queued(broker: RedisServer, queue: str) -> int:
    """Messages in a queue, read straight from the broker (LLEN)."""
    client = redis.Redis(port=broker.port)
    try:
        return int(client.llen(queue))
    finally:
        client.close()


def generate(host: httpx.Client, **extra: object) -> str:
    r = host.post("/generations", json={**SMALL, **extra})
    assert r.status_code == 200, r.text
    return r.json()["sdGenerationJob"]["generationId"]


def test_jobs_posted_while_the_broker_is_down_run_once_it_is_back(
    cluster: Cluster, host: httpx.Client, broker: RedisServer
) -> None:
    first = generate(host)
    wait_complete(cluster, "generations", [first])
    image = host.get(f"/generations/{first}").json()["generations_by_pk"]["generated_images"][0]["id"]
    readyz = f"{cluster.apis[0].base_url}/readyz"
    checks = httpx.get(readyz).json()["checks"]
    assert all(c["ok"] for c in checks.values()), checks  # PostgreSQL, disk, Redis and a live worker
    broker.stop()
    try:
        down = httpx.get(readyz)
        assert down.status_code == 503 and not down.json()["checks"]["broker"]["ok"], down.text
        assert down.json()["checks"]["database"]["ok"]  # only the broker is named
        started = time.monotonic()
        job = generate(host)
        r = host.post("/variations/nobg", json={"id": image})
        assert r.status_code == 200, r.text
        variation = r.json()["sdNobgJob"]["id"]
        assert time.monotonic() - started < 20, "the API waited too long on the dead broker"
        time.sleep(REPUBLISH_AFTER + 2)  # the reaper has tried (and failed) to publish them again
        assert job_rows(cluster, "generations", [job])[job][:3] == ("PENDING", None, 0)
        assert job_rows(cluster, "image_variations", [variation])[variation][:3] == ("PENDING", None, 0)
    finally:
        broker.start()
    done = {**wait_complete(cluster, "generations", [job]), **wait_complete(cluster, "image_variations", [variation])}
    assert httpx.get(readyz).status_code == 200  # ready again once the broker is back
    for _status, published_at, attempts, worker in done.values():
        assert published_at is not None and attempts == 1 and worker is not None
    logs = cluster.logs()
    assert "could not publish generation" in logs and "could not publish variation" in logs
    assert f"generation {job} published again (never published)" in logs
    assert f"variation {variation} published again (never published)" in logs


def test_a_message_the_broker_lost_is_published_again(
    cluster: Cluster, host: httpx.Client, broker: RedisServer
) -> None:
    worker = next(p for p in cluster.workers if p.poll() is None)
    worker.send_signal(signal.SIGTERM)  # no consumer: the message waits in the queue
    worker.wait(30)
    job = generate(host)
    queue = queue_for_model(TINY_MODEL_ID)
    assert queued(broker, queue) == 1
    assert job_rows(cluster, "generations", [job])[job][1] is not None  # published
    broker.stop()
    broker.start()  # nothing on disk: the message is gone
    assert queued(broker, queue) == 0
    cluster.start_worker([TINY_MODEL_ID])
    cluster.wait_workers_ready()
    ((_, _, attempts, by),) = wait_complete(cluster, "generations", [job]).values()
    assert attempts == 1 and by is not None
    assert f"generation {job} published again (its message was lost)" in cluster.logs()


def test_extra_copies_of_a_message_never_run_a_job_twice(cluster: Cluster, host: httpx.Client) -> None:
    job = generate(host, num_images=2, num_inference_steps=20)
    app = make_celery(cluster.env["SFUMATO_BROKER_URL"], 60)
    try:
        for _ in range(3):  # as a republish racing the original, or a redelivery, would
            app.send_task(TASK_NAME, args=["generation", job], queue=queue_for_model(TINY_MODEL_ID))
    finally:
        app.close()
    ((_, _, attempts, _),) = wait_complete(cluster, "generations", [job]).values()
    assert attempts == 1
    assert cluster.sql("SELECT count(*) FROM generated_images WHERE generation_id = %s", job) == [(2,)]
