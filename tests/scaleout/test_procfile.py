"""The repository's Procfile runs: its `api` line serves, its `worker` line joins the cluster and runs a job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sfumato.testing.live_server import API, free_port
from tests.scaleout.conftest import EXTRA_B, Cluster

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(240)]
ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_procfile_api_and_worker_lines_run(cluster: Cluster, tmp_path: Path) -> None:
    entries = procfile()
    assert set(entries) == {"api", "worker"}
    port = free_port()
    env = {
        **cluster.env,
        "PORT": str(port),
        "SFUMATO_WORKER_MODELS": EXTRA_B,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cluster.env.get('PATH', '')}",
    }
    procs = [
        subprocess.Popen(
            ["bash", "-c", f"exec {entries[name]}"],
            env=env,
            start_new_session=True,
            stdout=(tmp_path / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for name in ("api", "worker")
    ]
    try:
        key = cluster.apis[0].user("procfile")["api_key"]
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}{API}", headers={"Authorization": f"Bearer {key}"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if client.get("/me").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        body = {"prompt": "procfile", "modelId": EXTRA_B, "width": 64, "height": 64, "num_images": 1}
        job = client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
        worker_pid = procs[1].pid
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            ((status, worker),) = cluster.sql("SELECT status, worker FROM generations WHERE id = %s", job)
            if status != "PENDING":
                break
            time.sleep(0.3)
        assert status == "COMPLETE", (tmp_path / "worker.log").read_text()[-2000:]
        # EXTRA_B is also served by a cluster worker; either may take it, both are fine.
        assert worker is not None
        deadline = time.monotonic() + 90  # the Procfile worker reports itself once its models are loaded
        while time.monotonic() < deadline and not cluster.sql("SELECT 1 FROM workers WHERE pid = %s", worker_pid):
            assert procs[1].poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.3)
        assert cluster.sql("SELECT models FROM workers WHERE pid = %s", worker_pid) == [([EXTRA_B],)]
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
