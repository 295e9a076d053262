"""A scaled-out deployment on loopback, for tests/scaleout/ and bench/bench_scaleout.py: a scratch
PostgreSQL database, a broker (a Redis server, or a RabbitMQ vhost, of its own), API processes and
Celery workers (`sfumato worker`); and a Redis server of the test's own, to stop and start (broker outages)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis

from sfumato.testing.live_server import LiveServer, free_port, server_env

PG_ADMIN_URL = os.environ.get("SFUMATO_TEST_PG_ADMIN", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("SFUMATO_TEST_REDIS", "redis://127.0.0.1:6379")
RABBITMQ_BASE = os.environ.get("SFUMATO_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
BROKERS = ("redis", "amqp")


@dataclass
class Cluster:
    env: dict[str, str]
    pg_url: str
    apis: list[LiveServer]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_models: list[list[str]] = field(default_factory=list)
    log_dir: Path = Path(".")

    def worker_log(self, index: int) -> Path:
        return self.log_dir / f"worker-{index}.log"

    def start_worker(self, models: list[str], broker_url: str | None = None) -> subprocess.Popen[bytes]:
        """A `sfumato worker` for `models`, on the cluster's broker or on `broker_url`."""
        env = {**self.env, "SFUMATO_BROKER_URL": broker_url} if broker_url else self.env
        log = self.worker_log(len(self.workers)).open("ab")
        command = [sys.executable, "-m", "sfumato.cli", "worker", "--models", ",".join(models), "--device", "cpu"]
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.workers.append(proc)
        self.worker_models.append(models)
        return proc

    def wait_workers_ready(self, timeout: float = 120) -> None:
        """Every started (and living) worker has written its heartbeat row."""
        want = {p.pid for p in self.workers if p.poll() is None}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with psycopg.connect(self.pg_url) as conn:
                pids = {r[0] for r in conn.execute("SELECT pid FROM workers")}
            if want <= pids:
                return
            for p in self.workers:
                if p.poll() is not None and p.pid in want:
                    raise RuntimeError(f"worker exited: {self.logs()[-3000:]}")
            time.sleep(0.3)
        raise RuntimeError(f"workers not ready: {self.logs()[-3000:]}")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def sql(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.pg_url) as conn:
            return list(conn.execute(query, args))  # type: ignore[arg-type]

    def wait_not_pending(self, query: str, ids: list[str], timeout: float = 150) -> dict[str, tuple[Any, ...]]:
        """id -> the rest of its row of `query` (first column the id, second the status; the ids are its one
        parameter, `= ANY(%s)`), once every id has a row and none is PENDING."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.sql(query, ids)
            if len(rows) == len(ids) and all(r[1] != "PENDING" for r in rows):
                return {r[0]: r[1:] for r in rows}
            time.sleep(0.3)
        raise AssertionError(f"still PENDING after {timeout}s: {ids}\n{self.logs()[-4000:]}")

    def stop_workers(self) -> None:
        """SIGTERM (Celery's warm shutdown), then SIGKILL what is still there after 15 s."""
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.workers:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for api in self.apis:
            api.stop()
        self.stop_workers()


@contextmanager
def scratch_database(prefix: str = "sfumato_scaleout") -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def scratch_redis() -> Iterator[str]:
    """A Redis server of its own on a free port, empty, stopped afterwards: nothing shared with other tests,
    other test processes (pytest -n) or the machine's Redis."""
    with tempfile.TemporaryDirectory(prefix="sfumato-redis-") as tmp:
        server = RedisServer(free_port(), Path(tmp) / "redis.log")
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


@contextmanager
def scratch_vhost() -> Iterator[str]:
    """A RabbitMQ vhost of its own (its queues are seen by nobody else), deleted afterwards."""
    name = f"sfumato_test_{uuid.uuid4().hex[:10]}"
    for args in (["add_vhost", name], ["set_permissions", "-p", name, "guest", ".*", ".*", ".*"]):
        subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)
    try:
        yield f"{RABBITMQ_BASE}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


@contextmanager
def scratch_broker(kind: str) -> Iterator[str]:
    """A broker URL nobody else uses: "redis" (a server of its own) or "amqp" (a RabbitMQ vhost)."""
    if kind == "amqp":
        with scratch_vhost() as url:
            yield url
    else:
        with scratch_redis() as url:
            yield url


class RedisServer:
    """A redis-server of the test's own on a fixed port, that the test stops (a broker outage) and starts
    again. Nothing on disk: a restart loses every message, as the machine's own Redis would."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._log = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._proc = subprocess.Popen(command, stdout=self._log.open("ab"), stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server on {self.port} did not start: {self._log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(15)


def cluster_env(
    data: Path, catalog: Path, pg: str, broker: str, limits_redis: str | None = None, **extra: str
) -> dict[str, str]:
    """`limits_redis`: the Redis of the request rate limits; by default the broker (when it is Redis)."""
    env = server_env(data, catalog)
    env.update(
        SFUMATO_DATABASE_URL=pg,
        SFUMATO_BROKER_URL=broker,
        SFUMATO_REDIS_URL=limits_redis or broker,
        SFUMATO_VISIBILITY_TIMEOUT_SECONDS="10",
        SFUMATO_WORKER_HEARTBEAT_SECONDS="1",
        SFUMATO_WORKER_DEAD_AFTER_SECONDS="4",
        SFUMATO_REAPER_INTERVAL_SECONDS="1",
        SFUMATO_DB_POOL_SIZE="4",
        SFUMATO_TORCH_THREADS="1",  # several workers on a small CPU: one thread each runs faster overall
    )
    env.update(extra)
    return env


@contextmanager
def running_cluster(
    env: dict[str, str], root: Path, pg_url: str, apis: int, worker_models: list[list[str]]
) -> Iterator[Cluster]:
    """Migrations applied, `apis` API processes and one worker per entry of `worker_models`, all ready."""
    subprocess.run([sys.executable, "-m", "sfumato.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    servers = [LiveServer(env, free_port(), root / f"api-{i}.log") for i in range(apis)]
    c = Cluster(env, pg_url, servers, log_dir=root)
    try:
        for api in servers:
            api.start()
        for models in worker_models:
            c.start_worker(models)
        c.wait_workers_ready()
        yield c
    finally:
        c.stop()
