"""A job longer than RabbitMQ's heartbeat timeout runs once, because workers turn AMQP heartbeats off
(`broker_heartbeat=0` in jobs/celery_app.py): the solo pool runs the job on the thread that would send them.

RabbitMQ's default heartbeat is lowered to a few seconds for this module (`application:set_env`, put back
afterwards), so a job of ~10 s of compute on the tiny model is several heartbeat intervals long (each test
checks, from the runner's log line, that it lasted more than four). One API host on PostgreSQL, a RabbitMQ
vhost of the module's own, and one worker per test:

- the worker as shipped: its broker connection negotiated heartbeat 0 (`rabbitmqctl list_connections`,
  matched to the worker's sockets), the same connection outlives the job, the message is received once,
  the job is claimed once (attempts 1) and completes once;
- the negative control, a worker whose broker URL asks for heartbeats (`?heartbeat=`, which kombu lets the
  URL override; Celery's own default is 120 s, and the server's shorter interval wins): RabbitMQ drops its
  connection in the middle of the job, and the message is delivered again once the job is over. The
  database claim (jobs/core/runner.py) still keeps the redelivered copy from running the job a second time, so
  the control shows the broker-level failure (a dropped connection and a redelivery), not a double run."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from sfumato.engine.tiny import build_tiny_sd15
from sfumato.jobs.celery_app import TASK_NAME, queue_for_model
from sfumato.testing.cluster import (
    Cluster,
    cluster_env,
    running_cluster,
    scratch_database,
    scratch_redis,
    scratch_vhost,
)
from sfumato.testing.live_server import TINY_MODEL_ID

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(300)]

SERVER_HEARTBEAT = 2  # seconds: RabbitMQ closes a connection it has heard nothing on for two of these
# About 10 s of compute on one idle core (4x bench_scaleout's job): five heartbeat intervals and more.
LONG = {"prompt": "a red circle", "width": 256, "height": 256, "num_images": 8, "num_inference_steps": 60}


def rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


@pytest.fixture(scope="module")
def short_server_heartbeat() -> Iterator[int]:
    """RabbitMQ proposes SERVER_HEARTBEAT to connections opened meanwhile; its old value is put back after."""
    old = rabbitmqctl("eval", "application:get_env(rabbit, heartbeat).")
    rabbitmqctl("eval", f"application:set_env(rabbit, heartbeat, {SERVER_HEARTBEAT}).")
    try:
        yield SERVER_HEARTBEAT
    finally:
        found = re.fullmatch(r"\{ok,(\d+)\}", old)
        restore = f"set_env(rabbit, heartbeat, {found[1]})" if found else "unset_env(rabbit, heartbeat)"
        rabbitmqctl("eval", f"application:{restore}.")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, short_server_heartbeat: int) -> Iterator[Cluster]:
    """One API host and no worker yet (each test starts its own). The tiny model has no buckets, so it
    renders at the requested size (the shared tiny catalog's model snaps every request to 64x64)."""
    root = tmp_path_factory.mktemp("long-job")
    model = build_tiny_sd15(root / "tiny-sd15", seed=0)
    catalog = root / "catalog"
    catalog.mkdir()
    entry = {"id": TINY_MODEL_ID, "name": "Tiny", "description": "tiny", "path": str(model), "recommended_steps": 10}
    (catalog / "tiny.json").write_text(json.dumps([entry]))
    with scratch_database("sfumato_longjob") as pg, scratch_redis() as limits, scratch_vhost() as broker:
        # A worker short of CPU must not look dead, and the reaper must not publish the job again: any second
        # delivery seen here comes from the broker.
        env = cluster_env(
            root / "data",
            catalog,
            pg,
            broker,
            limits_redis=limits,
            SFUMATO_WORKER_DEAD_AFTER_SECONDS="120",
            SFUMATO_REPUBLISH_AFTER_SECONDS="600",
        )
        with running_cluster(env, root, pg, 1, []) as c:
            yield c


@contextmanager
def worker(c: Cluster, broker_url: str) -> Iterator[tuple[psutil.Process, Path]]:
    """A `sfumato worker` for the tiny model on `broker_url`, ready; stopped (warm shutdown) afterwards."""
    log = c.worker_log(len(c.workers))
    proc = c.start_worker([TINY_MODEL_ID], broker_url)
    try:
        c.wait_workers_ready()
        yield psutil.Process(proc.pid), log
    finally:
        c.stop_workers()


def broker_connections(vhost: str) -> dict[int, dict]:
    """The vhost's AMQP connections as RabbitMQ sees them, by the client's port."""
    rows = json.loads(rabbitmqctl("list_connections", "--formatter", "json", "vhost", "peer_port", "timeout", "name"))
    return {r["peer_port"]: r for r in rows if r["vhost"] == vhost}


def connections_of(proc: psutil.Process, vhost: str, timeout: float = 30) -> list[dict]:
    """The broker connections of one process (its TCP sockets to RabbitMQ's port, matched by port)."""
    deadline = time.monotonic() + timeout
    while True:
        ports = {s.laddr.port for s in proc.net_connections("tcp") if s.raddr and s.raddr.port == 5672}
        found = [row for port, row in broker_connections(vhost).items() if port in ports]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def run_long_job(c: Cluster) -> str:
    key = c.apis[0].user("long")["api_key"]
    with httpx.Client(base_url=c.apis[0].api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as host:
        r = host.post("/generations", json=LONG)
    assert r.status_code == 200, r.text
    return r.json()["sdGenerationJob"]["generationId"]


def wait_finished(c: Cluster, job: str, timeout: float = 200) -> tuple[str, int]:
    """(status, attempts) once the job is no longer PENDING."""
    rows = c.wait_not_pending("SELECT id, status, attempts FROM generations WHERE id = ANY(%s)", [job], timeout)
    return rows[job]


def messages(log: Path) -> list[str]:
    return [json.loads(line)["message"] for line in log.read_text().splitlines() if line.startswith("{")]


def runs(log: Path, job: str) -> list[float]:
    """How long each run of the job took, from the runner's COMPLETE lines."""
    found = (re.fullmatch(rf"generation {job} COMPLETE in ([\d.]+)s.*", m) for m in messages(log))
    return [float(m[1]) for m in found if m]


def received(log: Path) -> list[str]:
    """The Celery task ids this worker received, once per delivery."""
    found = (re.fullmatch(rf"Task {re.escape(TASK_NAME)}\[([\w-]+)\] received", m) for m in messages(log))
    return [m[1] for m in found if m]


def queue_counts(vhost: str) -> tuple[int, int]:
    """(ready, unacknowledged) messages in the tiny model's queue."""
    rows = json.loads(
        rabbitmqctl(
            "list_queues", "-p", vhost, "--formatter", "json", "name", "messages_ready", "messages_unacknowledged"
        )
    )
    row = next(r for r in rows if r["name"] == queue_for_model(TINY_MODEL_ID))
    return row["messages_ready"], row["messages_unacknowledged"]


def test_a_job_longer_than_the_broker_heartbeat_completes_once(cluster: Cluster, short_server_heartbeat: int) -> None:
    broker = cluster.env["SFUMATO_BROKER_URL"]
    vhost = broker.rsplit("/", 1)[1]
    with worker(cluster, broker) as (proc, log):
        before = connections_of(proc, vhost)
        assert before, "the worker holds no connection to RabbitMQ"
        assert [c["timeout"] for c in before] == [0] * len(before), before  # heartbeats off, as negotiated
        job = run_long_job(cluster)
        assert wait_finished(cluster, job) == ("COMPLETE", 1)
        time.sleep(3 * short_server_heartbeat)  # room for a redelivery, were there one
        (took,) = runs(log, job)
        assert took > 4 * short_server_heartbeat, f"the job ({took:.1f}s) was not long enough to prove anything"
        assert len(received(log)) == 1, messages(log)
        assert queue_counts(vhost) == (0, 0)  # acknowledged, nothing left to deliver again
        after = connections_of(proc, vhost)
        assert {c["name"] for c in after} == {c["name"] for c in before}, "a broker connection was replaced"
        assert not any("lost" in m.lower() for m in messages(log)), messages(log)
    assert cluster.sql("SELECT status, attempts FROM generations WHERE id = %s", job) == [("COMPLETE", 1)]


def test_negative_control_a_worker_with_heartbeats_loses_its_connection_and_the_message_comes_back(
    cluster: Cluster, short_server_heartbeat: int
) -> None:
    broker = cluster.env["SFUMATO_BROKER_URL"]
    vhost = broker.rsplit("/", 1)[1]
    with worker(cluster, f"{broker}?heartbeat=120") as (proc, log):
        before = connections_of(proc, vhost)
        assert before and {c["timeout"] for c in before} == {short_server_heartbeat}, before
        job = run_long_job(cluster)
        assert wait_finished(cluster, job) == ("COMPLETE", 1)
        deadline = time.monotonic() + 60
        while len(received(log)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        (took,) = runs(log, job)  # the redelivered copy found the job done: the claim ran it once
        assert took > 4 * short_server_heartbeat
        ids = received(log)
        assert len(ids) == 2 and ids[0] == ids[1], messages(log)  # the same message, delivered again
        assert any(m.startswith("consumer: Connection to broker lost") for m in messages(log)), messages(log)
        after = connections_of(proc, vhost)
        assert not {c["name"] for c in after} & {c["name"] for c in before}, "the connection was not dropped"
    assert cluster.sql("SELECT status, attempts FROM generations WHERE id = %s", job) == [("COMPLETE", 1)]
