"""A generation PENDING when the server dies (SIGKILL) runs after the server starts again."""

from __future__ import annotations

from pathlib import Path

from sfumato.testing.live_server import LiveServer, free_port, server_env, wait_for_generation


def test_sigkill_with_pending_generations_then_restart_completes_them(tiny_catalog: Path, tmp_path: Path) -> None:
    server = LiveServer(server_env(tmp_path / "data", tiny_catalog), free_port(), tmp_path / "server.log")
    server.start()
    try:
        with server.client("restart") as client:
            ids = []
            for n in range(3):
                r = client.post("/generations", json={"prompt": f"r{n}", "num_images": 2, "width": 128, "height": 128})
                ids.append(r.json()["sdGenerationJob"]["generationId"])
            # The worker is still importing torch for its first job: all three are PENDING now.
            statuses = [client.get(f"/generations/{i}").json()["generations_by_pk"]["status"] for i in ids]
        assert statuses.count("PENDING") >= 2
        server.kill()
        server.port = free_port()
        server.start()
        with server.client("restart") as client:
            for generation_id in ids:
                gen = wait_for_generation(client, generation_id)
                assert gen["status"] == "COMPLETE" and len(gen["generated_images"]) == 2
    finally:
        server.stop()


def test_graceful_stop_keeps_jobs_and_data(tiny_catalog: Path, tmp_path: Path) -> None:
    server = LiveServer(server_env(tmp_path / "data", tiny_catalog), free_port(), tmp_path / "server.log")
    server.start()
    try:
        with server.client("graceful") as client:
            gid = client.post("/generations", json={"prompt": "g", "num_images": 1, "width": 64, "height": 64}).json()[
                "sdGenerationJob"
            ]["generationId"]
            wait_for_generation(client, gid)
        server.stop()
        server.port = free_port()
        server.start()
        with server.client("graceful") as client:
            gen = client.get(f"/generations/{gid}").json()["generations_by_pk"]
            assert gen["status"] == "COMPLETE" and len(gen["generated_images"]) == 1
    finally:
        server.stop()
