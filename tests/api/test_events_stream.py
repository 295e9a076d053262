"""GET /generations/{id}/events: status and progress as server-sent events, ending with the final status; the
same 404 for another user's generation as for a missing one; `sfumato generate` reads it for its progress bar."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import httpx
from PIL import Image

from sfumato.cli.generate import sse_events
from sfumato.testing.live_server import LiveServer, wait_for_generation


def stream(client: httpx.Client, generation_id: str) -> list[tuple[str, dict]]:
    with client.stream("GET", f"/generations/{generation_id}/events", timeout=60) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(r.iter_lines()))


def test_the_stream_shows_pending_then_rising_steps_then_complete(live_server: LiveServer) -> None:
    client = live_server.client("streamer")
    # A job ahead of it on the one interactive worker keeps it PENDING while the stream opens.
    client.post("/generations", json={"prompt": "ahead", "width": 256, "height": 256, "num_inference_steps": 60})
    body = {"prompt": "a red circle", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 30}
    generation_id = client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
    events = stream(client, generation_id)
    assert events[0] == ("status", {"status": "PENDING"})
    assert events[-1] == ("status", {"status": "COMPLETE"})
    steps = [data["step"] for kind, data in events if kind == "progress"]
    assert steps[0] == 1 and steps[-1] == 30 and steps == sorted(set(steps))
    assert all(data["steps"] == 30 for kind, data in events if kind == "progress")
    assert [kind for kind, _ in events].count("status") == 2  # a status frame only when it changes
    # Previews: the latents mapped to RGB (no decoder pass), on every progress event written.
    previews = [data["preview"] for kind, data in events if kind == "progress"]
    assert len(previews) == len(steps) and all(p.startswith("data:image/png;base64,") for p in previews)
    last = Image.open(io.BytesIO(base64.b64decode(previews[-1].split(",", 1)[1])))
    assert last.size == (64, 64) and last.mode == "RGB"
    # A finished generation's stream is its final status at once.
    assert stream(client, generation_id) == [("status", {"status": "COMPLETE"})]


def test_another_users_stream_is_the_same_404_as_a_missing_one(live_server: LiveServer) -> None:
    owner, stranger = live_server.client("stream-owner"), live_server.client("stream-stranger")
    generation_id = owner.post("/generations", json={"prompt": "x", "width": 64, "height": 64}).json()[
        "sdGenerationJob"
    ]["generationId"]
    theirs = stranger.get(f"/generations/{generation_id}/events")
    missing = stranger.get("/generations/00000000-0000-4000-8000-000000000000/events")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"].replace(generation_id, "ID") == missing.json()["error"].replace(
        "00000000-0000-4000-8000-000000000000", "ID"
    )
    assert httpx.get(f"{live_server.api_url}/generations/{generation_id}/events").status_code == 401
    wait_for_generation(owner, generation_id)


def test_sfumato_generate_follows_the_stream_and_writes_the_images(live_server: LiveServer, tmp_path: Path) -> None:
    key = live_server.user("cli-generator")["api_key"]
    env = {**live_server.env, "SFUMATO_API_KEY": key}
    server = live_server.api_url.removesuffix("/api/rest/v1")
    command = [sys.executable, "-m", "sfumato.cli", "generate", "a blue square", "--server", server]
    command += ["--out", str(tmp_path), "--width", "64", "--height", "48", "--num-images", "2", "--seed", "7"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("*.png"))
    assert len(files) == 2 and all(Image.open(f).size == (64, 48) for f in files)
    assert "COMPLETE" in done.stdout + done.stderr or "step" in done.stdout + done.stderr
    no_key = {k: v for k, v in env.items() if k != "SFUMATO_API_KEY"}
    refused = subprocess.run(command, env=no_key, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "SFUMATO_API_KEY" in refused.stderr
