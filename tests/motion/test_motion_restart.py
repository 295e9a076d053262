"""A motion job that is running when the server dies (SIGKILL) runs again after the restart and completes
once: one video, two attempts recorded, one `done` event, no file left over from the killed attempt."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.live_server import LiveServer, free_port, server_env, wait_for_generation

TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000500e"


def query(data_dir: Path, sql: str, *params: object) -> list[tuple]:
    with sqlite3.connect(data_dir / "sfumato.db") as db:
        return db.execute(sql, params).fetchall()


def test_sigkill_during_a_motion_job_then_restart_completes_it_once(tiny_catalog: Path, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text((tiny_catalog / "tiny.json").read_text())
    svd = build_tiny_svd(tmp_path / "tiny-svd", frames=8, steps=20)  # long enough to be killed mid-run
    (catalog / "svd.json").write_text(
        json.dumps([{"id": TINY_SVD_ID, "name": "Slow tiny SVD", "description": "", "path": str(svd)}])
    )
    data = tmp_path / "data"
    server = LiveServer(server_env(data, catalog, motion_model_id=TINY_SVD_ID), free_port(), tmp_path / "server.log")
    server.start()
    try:
        with server.client("killed") as client:
            job = client.post(
                "/generations", json={"prompt": "a red circle", "num_images": 1, "width": 64, "height": 64}
            )
            image_id = wait_for_generation(client, job.json()["sdGenerationJob"]["generationId"])["generated_images"][
                0
            ]["id"]
            motion_id = client.post("/generations-motion-svd", json={"imageId": image_id}).json()[
                "motionSvdGenerationJob"
            ]["generationId"]
            deadline = time.monotonic() + 60
            while not query(data, "SELECT 1 FROM job_events WHERE job_id = ? AND type = 'progress'", motion_id):
                assert time.monotonic() < deadline, "the motion job never started"
                time.sleep(0.02)
        server.kill()  # mid-denoising: started, not finished
        assert query(data, "SELECT status FROM generations WHERE id = ?", motion_id) == [("PENDING",)]
        server.port = free_port()
        server.start()
        with server.client("killed") as client:
            done = wait_for_generation(client, motion_id, timeout=180)
        assert done["status"] == "COMPLETE" and len(done["generated_images"]) == 1
        assert query(data, "SELECT attempts FROM generations WHERE id = ?", motion_id) == [(2,)]
        assert query(data, "SELECT count(*) FROM job_events WHERE job_id = ? AND type = 'done'", motion_id) == [(1,)]
        files = sorted(p.suffix for p in (data / "files").rglob(f"*{motion_id}*/*") if p.is_file())
        assert files == [".mp4", ".png"], files
    finally:
        server.stop()
