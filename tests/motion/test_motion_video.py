"""Image-to-video and text-to-video through a real server with the official Python SDK: the prompt's direction
reaches the model, the requested size, resolution and frame interpolation shape the MP4, the fields naming
models this server lacks are recorded, and every refusal names its field. The model is a tiny random SVD
folder in Starter Motion's prompt layout (built in code), so this tests the server's path; whether the
motion really goes where the prompt says is scored on Starter Motion by its eval (docs/starter-motion.md)."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.live_server import LiveServer, wait_for_generation
from tests.images.support import upload
from tests.motion.support import motion_server

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000501d"
TINY_SVD_NAME = "Tiny prompt SVD"
FRAMES = 4


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("motion-video")
    svd = build_tiny_svd(root / "tiny-svd", frames=FRAMES, follows_prompts=True, buckets=((40, 32), (32, 40)))
    with motion_server(root, tiny_catalog, svd, TINY_SVD_ID, TINY_SVD_NAME) as live:
        yield live


def options_of(server: LiveServer, generation_id: str) -> dict[str, Any]:
    """What the job recorded (the generations table's options), read from the server's own database."""
    with sqlite3.connect(Path(server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
        [(raw,)] = db.execute("SELECT options FROM generations WHERE id = ?", (generation_id,)).fetchall()
    return json.loads(raw)


def finished_image(client: httpx.Client) -> tuple[str, str]:
    job = client.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64, "num_images": 1})
    generation_id = job.json()["sdGenerationJob"]["generationId"]
    return generation_id, wait_for_generation(client, generation_id)["generated_images"][0]["id"]


def poll(sdk: LeonardoAiSDK, generation_id: str) -> Any:
    deadline = time.monotonic() + 120
    while (gen := sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk).status == "PENDING":
        assert time.monotonic() < deadline, "the video job did not finish"
        time.sleep(0.3)
    return gen


def decoded(url: str) -> tuple[list[Image.Image], float]:
    mp4 = httpx.get(url)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        return [f.to_image() for f in container.decode(stream)], float(stream.average_rate)


def test_image_to_video_with_the_python_sdk(server: LiveServer) -> None:
    client = server.client("i2v")
    _, image_id = finished_image(client)
    sdk = LeonardoAiSDK(bearer_auth=server.user("i2v")["api_key"], server_url=server.api_url)
    request = {
        "image_id": image_id,
        "image_type": "GENERATED",
        "prompt": "the circle moving to the left",
        "resolution": "RESOLUTION_720",
        "frame_interpolation": True,
        "model": "VEO3",
        "duration": 8,
        "style_ids": ["a4a4a4a4-0000-4000-8000-000000000001"],
        "seed": 1234,
    }
    job = sdk.motion.create_image_to_video_generation(request=request).object.motion_video_generation_job
    gen = poll(sdk, job.generation_id)
    assert gen.status == "COMPLETE", server.log_path.read_text()[-3000:]
    [video] = gen.generated_images
    # What ran is reported, not the model asked for; imageToVideo says how the video was made.
    assert video.motion is True and video.motion_model == TINY_SVD_NAME and video.image_to_video is True
    assert gen.prompt == "the circle moving to the left" and gen.seed == 1234
    frames, fps = decoded(video.motion_mp4_url)
    assert len(frames) == 2 * FRAMES - 1 and fps == 16  # interpolated: a blended frame between each two
    assert frames[0].size == (gen.image_width, gen.image_height) == (720, 720)  # RESOLUTION_720, square source
    recorded = options_of(server, job.generation_id)
    assert recorded["requested_model"] == "VEO3" and recorded["duration"] == 8
    assert recorded["style_ids"] == request["style_ids"] and recorded["direction"] == "left"


def test_image_to_video_from_an_uploaded_image_in_a_wide_size(server: LiveServer) -> None:
    client = server.client("i2v-upload")
    init_id = upload(client, Image.new("RGB", (80, 64), (30, 60, 200)))
    body = {"imageId": init_id, "imageType": "uploaded", "prompt": "rises", "width": 832, "height": 480}
    answer = client.post("/generations-image-to-video", json=body)
    assert answer.status_code == 200, answer.text
    generation_id = answer.json()["motionVideoGenerationJob"]["generationId"]
    done = wait_for_generation(client, generation_id)
    assert done["status"] == "COMPLETE"
    frames, fps = decoded(done["generated_images"][0]["motionMP4URL"])
    assert len(frames) == FRAMES and fps == 8 and frames[0].size == (832, 480)
    assert options_of(server, generation_id)["direction"] == "up"


def test_text_to_video_with_the_python_sdk(server: LiveServer) -> None:
    sdk = LeonardoAiSDK(bearer_auth=server.user("t2v")["api_key"], server_url=server.api_url)
    prompt = "a red circle on the left moving right"
    request = {"prompt": prompt, "negative_prompt": "blue", "width": 480, "height": 832}
    job = sdk.motion.create_text_to_video_generation(request=request).object.motion_video_generation_job
    gen = poll(sdk, job.generation_id)
    assert gen.status == "COMPLETE", server.log_path.read_text()[-3000:]
    [video] = gen.generated_images
    assert video.motion_model == TINY_SVD_NAME and video.image_to_video is False
    frames, _ = decoded(video.motion_mp4_url)
    assert len(frames) == FRAMES and frames[0].size == (480, 832)
    recorded = options_of(server, job.generation_id)
    assert recorded["direction"] == "right" and recorded["duration"] == 8  # the Python SDK always sends duration 8
    # Frame 0 is drawn from the scene alone, at the motion model's portrait bucket.
    frame = recorded["frame"]
    assert frame["prompt"] == "a red circle on the left" and frame["negative_prompt"] == "blue"
    assert (frame["width"], frame["height"]) == (32, 40)
    listed = sdk.image.get_generations_by_user_id(user_id=server.user("t2v")["user_id"]).object.generations
    assert job.generation_id in [g.id for g in listed]


def test_image_type_and_id_mistakes_get_errors_that_name_the_fix(server: LiveServer) -> None:
    client = server.client("i2v-mistakes")
    generation_id, image_id = finished_image(client)
    init_id = upload(client, Image.new("RGB", (64, 64), (200, 30, 30)))
    base = {"prompt": "moving left"}
    cases = [
        ({"imageId": image_id, "imageType": "UPLOADED"}, "imageType", "send imageType GENERATED"),
        ({"imageId": init_id, "imageType": "GENERATED"}, "imageType", "send imageType UPLOADED"),
        ({"imageId": image_id}, "imageType", "GENERATED"),
        ({"imageType": "GENERATED"}, "imageId", "generations_by_pk.generated_images[].id"),
        ({"imageId": generation_id, "imageType": "GENERATED"}, "imageId", "is a generation id, not an image id"),
    ]
    for body, field, words in cases:
        answer = client.post("/generations-image-to-video", json={**base, **body})
        assert answer.status_code == 400, answer.text
        assert answer.json()["path"] == f"$.{field}" and words in answer.json()["error"], answer.text
    mistaken = {**base, "imageId": generation_id, "imageType": "GENERATED"}
    teaching = client.post("/generations-image-to-video", json=mistaken)
    assert teaching.json()["error"].startswith("Service Error") and image_id in teaching.json()["error"]
    stranger = server.client("i2v-stranger")
    other = stranger.post("/generations-image-to-video", json={**base, "imageId": image_id, "imageType": "GENERATED"})
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "moving left", "model": "SORA"}, "model"),
        ({"prompt": "moving left", "resolution": "RESOLUTION_4K"}, "resolution"),
        ({"prompt": "moving left", "width": 832}, "height"),
        ({"prompt": "moving left", "width": 833, "height": 480}, "width"),
        ({"prompt": "moving left", "width": 832, "height": 480, "resolution": "RESOLUTION_720"}, "resolution"),
        ({"prompt": "moving left", "seed": 2_147_483_638}, "seed"),
        ({"prompt": "moving left", "duration": 0}, "duration"),
        ({"prompt": "moving left", "elements": [{"akUUID": "ece8c6a9-0000-4000-8000-000000000000"}]}, "elements"),
        ({"prompt": "moving left", "promptEnhance": True}, "promptEnhance"),
        ({"prompt": "moving left", "promptEnhanceInstruction": "make it epic"}, "promptEnhanceInstruction"),
        ({"prompt": "moving left", "width": "wide", "height": 480}, "width"),
    ],
)
def test_text_to_video_refusals_name_the_field(server: LiveServer, body: dict, field: str) -> None:
    answer = server.client("t2v-mistakes").post("/generations-text-to-video", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["path"] == f"$.{field}", answer.text


def test_image_to_video_refuses_what_it_cannot_do(server: LiveServer) -> None:
    client = server.client("i2v-refusals")
    _, image_id = finished_image(client)
    base = {"imageId": image_id, "imageType": "GENERATED", "prompt": "moving left"}
    for extra, field in [
        ({"endFrameImage": {"id": image_id, "type": "GENERATED"}}, "endFrameImage"),
        ({"negativePrompt": "blurry"}, "negativePrompt"),
    ]:
        answer = client.post("/generations-image-to-video", json={**base, **extra})
        assert answer.status_code == 400 and answer.json()["path"] == f"$.{field}", answer.text
    # Accepted as sent by the SDKs and n8n: numbers as strings, enums in any case, empty optional fields.
    tolerant = {**base, "seed": "42", "model": "motion2", "negativePrompt": "", "elements": [], "isPublic": None}
    assert client.post("/generations-image-to-video", json=tolerant).status_code == 200


def test_image_and_text_to_video_with_the_typescript_sdk(server: LiveServer) -> None:
    """The TS SDK validates every response with zod; tests/ts/motion-video.mjs runs both flows."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: the TypeScript SDK tests need Node 20+ (make test installs it)"
    env = {
        **os.environ,
        "SERVER_URL": server.api_url,
        "API_KEY": server.user("ts-video")["api_key"],
        "MOTION_MODEL": TINY_SVD_NAME,
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "motion-video.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK video scenario" in proc.stdout
