"""Operators' endpoints on a real server: /healthz, /readyz (and each way it says not ready), /metrics, request
ids in headers, error bodies and log lines, and the Allow header of a 405."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sfumato.bootstrap import ModelWarmup, _served_by_a_live_worker
from sfumato.jobs.celery_app import make_celery
from sfumato.jobs.celery_dispatch import CeleryDispatcher
from sfumato.jobs.dispatch import InProcessDispatcher
from sfumato.services.catalog import Catalog
from sfumato.services.operations import _quantile
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.workers import WorkerRow
from sfumato.testing.live_server import LiveServer, free_port, server_env, wait_for_generation
from tests.support import TINY_MODEL_ID


def ready(server: LiveServer, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{server.base_url}/readyz")
        if answer.status_code == 200 or time.monotonic() > deadline:
            return {"status_code": answer.status_code, **answer.json()}
        time.sleep(0.2)


def test_health_readiness_and_metrics_on_a_live_server(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.base_url}/healthz").json() == {"status": "ok"}
    answer = ready(live_server)
    assert answer["status_code"] == 200 and answer["status"] == "ready", answer
    assert set(answer["checks"]) == {"database", "storage", "broker", "model"}
    client = live_server.client("metered")
    generation_id = client.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64}).json()
    generation_id = generation_id["sdGenerationJob"]["generationId"]
    assert wait_for_generation(client, generation_id)["status"] == "COMPLETE"
    metrics = httpx.get(f"{live_server.base_url}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    body = metrics.text
    # Requests by route template: the id never becomes a label (it would explode the series).
    assert re.search(r'sfumato_http_requests_total\{method="GET",route="/generations/\{id\}",status="200"\} \d', body)
    assert generation_id not in body
    complete = re.search(r'sfumato_jobs\{kind="generation",status="COMPLETE"\} (\d+)', body)
    assert complete and int(complete.group(1)) >= 1
    assert re.search(r'sfumato_queue_depth\{kind="motion"\} \d', body)
    assert re.search(r'sfumato_job_duration_seconds\{kind="generation",quantile="0.5"\} [0-9.e-]+', body)
    assert re.search(r'sfumato_webhook_deliveries\{status="delivered"\} \d', body)
    assert "sfumato_http_request_duration_seconds_bucket" in body


def test_request_ids_reach_the_header_the_error_body_and_the_log(live_server: LiveServer) -> None:
    client = live_server.client("traced")
    answer = client.get("/generations/no-such-generation", headers={"X-Request-Id": "trace-4242"})
    assert answer.status_code == 404
    assert answer.headers["x-request-id"] == "trace-4242" and answer.json()["requestId"] == "trace-4242"
    minted = client.get("/generations/also-missing")
    assert re.fullmatch(r"[0-9a-f]{32}", minted.headers["x-request-id"])  # none sent: one is made
    assert minted.json()["requestId"] == minted.headers["x-request-id"]
    hostile = client.get("/me", headers={"X-Request-Id": 'x" onload=alert(1) ' + "y" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])  # never echoed as sent
    live_server.client("traced").post(
        "/generations", json={"prompt": "a red circle", "width": 7}, headers={"X-Request-Id": "trace-log-7"}
    )
    deadline = time.monotonic() + 10
    while "trace-log-7" not in live_server.log_path.read_text():
        assert time.monotonic() < deadline, "no log line carries the request id"
        time.sleep(0.2)


def test_a_405_names_the_allowed_methods(live_server: LiveServer) -> None:
    answer = live_server.client("methodical").delete("/me")
    assert answer.status_code == 405 and answer.headers["allow"] == "GET"
    assert "use GET" in answer.json()["error"]


@pytest.fixture
def server_without_files(tiny_catalog: Path, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(server_env(tmp_path / "data", tiny_catalog), free_port(), tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_readiness_says_which_part_is_missing(server_without_files: LiveServer, tmp_path: Path) -> None:
    assert ready(server_without_files)["status_code"] == 200
    files = next(p for p in (tmp_path / "data").iterdir() if p.is_dir() and p.name == "files")
    shutil.move(files, tmp_path / "moved-away")  # the disk the files live on went away
    answer = ready(server_without_files, timeout=0)
    assert answer["status_code"] == 503 and answer["status"] == "not ready"
    assert not answer["checks"]["storage"]["ok"] and "missing" in answer["checks"]["storage"]["detail"]
    assert answer["checks"]["database"]["ok"] and answer["checks"]["model"]["ok"]
    assert httpx.get(f"{server_without_files.base_url}/healthz").status_code == 200  # up, just not ready
    shutil.move(tmp_path / "moved-away", files)
    assert ready(server_without_files)["status_code"] == 200


class FailingEngine:
    def preload(self, path: Path) -> None:
        raise OSError(f"{path} is unreadable")


class SlowEngine:
    def __init__(self) -> None:
        self.release = False

    def preload(self, path: Path) -> None:
        while not self.release:
            time.sleep(0.01)


def test_model_readiness_while_loading_and_when_loading_failed(sqlite_db: Database) -> None:
    catalog = Catalog(sqlite_db, "1cda8773-2726-40ce-8342-cbdc373d1e10")
    slow = SlowEngine()
    warmup = ModelWarmup(slow, catalog)  # type: ignore[arg-type]
    warmup.start()
    assert warmup.problem() == "loading the default model"
    slow.release = True
    deadline = time.monotonic() + 5
    while warmup.problem() is not None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    broken = ModelWarmup(FailingEngine(), catalog)  # type: ignore[arg-type]
    broken.start()
    deadline = time.monotonic() + 5
    while broken.problem() == "loading the default model":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "could not be loaded" in (broken.problem() or "") and "unreadable" in (broken.problem() or "")
    assert ModelWarmup(FailingEngine(), catalog, enabled=False).problem() is None  # first generation loads it


def test_scale_out_readiness_needs_a_live_worker_for_the_default_model(sqlite_db: Database) -> None:
    catalog = Catalog(sqlite_db, TINY_MODEL_ID)
    problem = _served_by_a_live_worker(sqlite_db, catalog, dead_after=10)
    assert "no live worker serves the default model" in (problem() or "")
    with sqlite_db.session() as s:
        s.add(WorkerRow(id="host:1", hostname="host", pid=1, models=["another-model"], device="cpu"))
    assert problem() is not None  # a worker, but not for this model
    with sqlite_db.session() as s:
        s.add(WorkerRow(id="host:2", hostname="host", pid=2, models=[TINY_MODEL_ID], device="cpu"))
    assert problem() is None
    with sqlite_db.session() as s:
        s.execute(text("UPDATE workers SET last_seen = '2000-01-01 00:00:00'"))
    assert problem() is not None  # its heartbeat stopped: dead


def test_dispatcher_and_store_checks_fail_with_a_reason(tmp_path: Path) -> None:
    dispatcher = InProcessDispatcher(lambda kind, job_id: None, lambda: [])  # type: ignore[arg-type,return-value]
    with pytest.raises(RuntimeError, match="not running"):
        dispatcher.check()
    dispatcher.start()
    dispatcher.check()
    dispatcher.stop()
    with pytest.raises(RuntimeError, match="not running"):
        dispatcher.check()
    store = LocalFileStore(tmp_path / "files")
    store.check()
    shutil.rmtree(tmp_path / "files")
    with pytest.raises(OSError, match="missing"):
        store.check()
    unreachable = CeleryDispatcher(make_celery(f"redis://127.0.0.1:{free_port()}/0", 10), None, None)  # type: ignore[arg-type]
    with pytest.raises(Exception):  # noqa: B017 (kombu raises its own OperationalError)
        unreachable.check()


def test_quantiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (_quantile(values, 0.5), _quantile(values, 0.9), _quantile(values, 0.99)) == (50.0, 90.0, 99.0)
    assert _quantile([3.0], 0.99) == 3.0
