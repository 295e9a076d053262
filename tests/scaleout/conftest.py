"""A scaled-out deployment on loopback: the machine's PostgreSQL (a fresh database per module, dropped
after) and Redis (a database index of its own, flushed), two API processes and three Celery workers,
each serving a different set of tiny models."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis

from tests.support import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer, free_port, server_env

PG_ADMIN_URL = os.environ.get("SFUMATO_TEST_PG_ADMIN", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("SFUMATO_TEST_REDIS", "redis://127.0.0.1:6379")
EXTRA_A = "0a1b2c3d-0000-4000-8000-0000000000a1"
EXTRA_B = "0a1b2c3d-0000-4000-8000-0000000000b2"
UNSERVED = "0a1b2c3d-0000-4000-8000-0000000000dd"  # in the catalog, served by no worker
# Three workers, three different model sets; every served model has one or two workers.
WORKER_MODELS = [[TINY_MODEL_ID, TINY_XL_MODEL_ID], [TINY_MODEL_ID, EXTRA_A], [EXTRA_A, EXTRA_B]]
UNSERVED_TIMEOUT = 8
MAX_PENDING = 30


@dataclass
class Cluster:
    env: dict[str, str]
    pg_url: str
    apis: list[LiveServer]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    worker_models: list[list[str]] = field(default_factory=list)
    log_dir: Path = Path(".")

    def start_worker(self, models: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"worker-{len(self.workers)}.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "sfumato.cli", "worker", "--models", ",".join(models),
                                 "--device", "cpu"], env=self.env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
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

    def sql(self, query: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.pg_url) as conn:
            return list(conn.execute(query, args))  # type: ignore[arg-type]


def _make_catalog(root: Path, tiny_catalog: Path) -> Path:
    from sfumato.engine.tiny import build_tiny_sd15
    from tests.conftest import TINY_BUCKETS

    entries = json.loads((tiny_catalog / "tiny.json").read_text())
    sd15_path = next(e["path"] for e in entries if e["id"] == TINY_MODEL_ID)
    for model_id, seed in ((EXTRA_A, 1), (EXTRA_B, 2)):
        path = build_tiny_sd15(root / f"tiny-{seed}", seed=seed, buckets=TINY_BUCKETS)
        entries.append({"id": model_id, "name": f"Tiny extra {seed}", "description": "tiny", "path": str(path),
                        "recommended_steps": 10})  # fmt: skip
    entries.append({"id": UNSERVED, "name": "Unserved", "description": "no worker has it", "path": sd15_path,
                    "recommended_steps": 10})  # fmt: skip
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "models.json").write_text(json.dumps(entries))
    return catalog


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"sfumato_scaleout_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    # A database index of its own (the others may belong to other tests on this machine), empty first.
    index = 8 + os.getpid() % 7
    url = f"{REDIS_BASE}/{index}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


def cluster_env(data: Path, catalog: Path, pg: str, broker: str, **extra: str) -> dict[str, str]:
    env = server_env(data, catalog)
    env.update(
        SFUMATO_DATABASE_URL=pg,
        SFUMATO_BROKER_URL=broker,
        SFUMATO_REDIS_URL=broker,
        SFUMATO_VISIBILITY_TIMEOUT_SECONDS="10",
        SFUMATO_WORKER_HEARTBEAT_SECONDS="1",
        SFUMATO_WORKER_DEAD_AFTER_SECONDS="4",
        SFUMATO_UNSERVED_MODEL_TIMEOUT_SECONDS=str(UNSERVED_TIMEOUT),
        SFUMATO_REAPER_INTERVAL_SECONDS="1",
        SFUMATO_MAX_PENDING_PER_USER=str(MAX_PENDING),
        SFUMATO_DB_POOL_SIZE="4",
        SFUMATO_TORCH_THREADS="1",  # several workers on a small CPU: one thread each runs faster overall
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def cluster(
    tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory, pg_url: str, redis_url: str
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scaleout")
    catalog = _make_catalog(root, tiny_catalog)
    env = cluster_env(root / "data", catalog, pg_url, redis_url)
    subprocess.run([sys.executable, "-m", "sfumato.cli", "db", "upgrade"], env=env, check=True, capture_output=True)
    apis = [LiveServer(env, free_port(), root / f"api-{i}.log") for i in range(2)]
    c = Cluster(env, pg_url, apis, log_dir=root)
    try:
        for api in apis:
            api.start()
        for models in WORKER_MODELS:
            c.start_worker(models)
        c.wait_workers_ready()
        yield c
    finally:
        for p in c.workers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for api in apis:
            api.stop()
        for p in c.workers:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
