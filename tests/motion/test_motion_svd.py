"""Motion through a real server with the official Python SDK: generate an image, make a video of it with
POST /generations-motion-svd, poll the new generation, download the MP4 (H.264, yuv420p, faststart, byte
ranges) and decode it; the FAQ's mistakes get errors that say what to pass. The model is a tiny random SVD
folder built in code, so this is the operator's path (the Starter Motion model is scored by its own eval)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image
from standardwebhooks import Webhook

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.browser import chromium, video_facts
from sfumato.testing.live_server import LiveServer, free_port, wait_for_generation
from tests.motion.support import motion_server
from tests.webhooks.support import FAST_WEBHOOKS, Receiver, webhook_key

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000500d"
FRAMES = 4


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("motion")
    svd = build_tiny_svd(root / "tiny-svd", frames=FRAMES)
    # webhook receivers on loopback
    with motion_server(root, tiny_catalog, svd, TINY_SVD_ID, "Tiny SVD", FAST_WEBHOOKS) as live:
        yield live


def sdk_for(server: LiveServer, name: str) -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=server.user(name)["api_key"], server_url=server.api_url)


def finished_image(client: httpx.Client) -> tuple[str, str]:
    """(generation id, image id) of a finished one-image generation."""
    job = client.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64, "num_images": 1})
    generation_id = job.json()["sdGenerationJob"]["generationId"]
    done = wait_for_generation(client, generation_id)
    return generation_id, done["generated_images"][0]["id"]


def test_svd_motion_from_an_image_id_with_the_python_sdk(server: LiveServer) -> None:
    client = server.client("mover")
    generation_id, image_id = finished_image(client)
    sdk = sdk_for(server, "mover")
    job = sdk.motion.create_svd_motion_generation(request={"image_id": image_id, "motion_strength": 7})
    motion_id = job.object.motion_svd_generation_job.generation_id
    assert motion_id and motion_id != generation_id
    deadline = time.monotonic() + 120
    while (gen := sdk.image.get_generation_by_id(id=motion_id).object.generations_by_pk).status == "PENDING":
        assert time.monotonic() < deadline, "the motion job did not finish"
        time.sleep(0.3)
    assert gen.status == "COMPLETE", server.log_path.read_text()[-3000:]
    [video] = gen.generated_images
    assert video.motion is True and video.motion_model == "SVD" and video.motion_strength == 7
    assert video.image_to_video is False and gen.prompt == "a red circle" and gen.scheduler is not None
    mp4 = httpx.get(video.motion_mp4_url)
    assert mp4.status_code == 200 and mp4.headers["content-type"] == "video/mp4"
    assert mp4.content.find(b"moov") < mp4.content.find(b"mdat")  # faststart: plays before it has all arrived
    with av.open(io.BytesIO(mp4.content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = [f.to_image() for f in container.decode(stream)]
    assert len(frames) == FRAMES
    assert frames[0].size == (gen.image_width, gen.image_height) == (480, 480)  # 32 px native, enlarged for players
    poster = Image.open(io.BytesIO(httpx.get(video.url).content))
    assert poster.size == (480, 480)
    partial = httpx.get(video.motion_mp4_url, headers={"Range": "bytes=0-1"})  # what Safari sends first
    assert partial.status_code == 206 and partial.content == mp4.content[:2]
    listed = client.get(f"/generations/user/{server.user('mover')['user_id']}").json()["generations"]
    assert motion_id in [g["id"] for g in listed]  # listed with the other generations
    body = client.get(f"/generations/{motion_id}").json()["generations_by_pk"]
    assert "sdVersion" not in body  # Leonardo's null there broke the TypeScript SDK: omitted
    assert client.delete(f"/generations/{motion_id}").status_code == 200
    assert httpx.get(video.motion_mp4_url).status_code == 404  # deleted with its generation


def test_the_mp4_plays_in_chromium(server: LiveServer) -> None:
    """A `<video>` element in a real Chromium loads the served MP4, decodes it and reads its duration and size."""
    client = server.client("watcher")
    _, image_id = finished_image(client)
    answer = client.post("/generations-motion-svd", json={"imageId": image_id})
    done = wait_for_generation(client, answer.json()["motionSvdGenerationJob"]["generationId"])
    with chromium() as browser:
        facts = video_facts(browser, done["generated_images"][0]["motionMP4URL"])
    assert facts["readyState"] == 4  # HAVE_ENOUGH_DATA: decoded, ready to play through
    assert (facts["width"], facts["height"]) == (done["imageWidth"], done["imageHeight"]) == (480, 480)
    assert facts["duration"] == pytest.approx(FRAMES / 8, abs=0.01)  # 4 frames at 8 fps


def test_a_generation_id_as_image_id_gets_the_teaching_error(server: LiveServer) -> None:
    client = server.client("confused")
    generation_id, image_id = finished_image(client)
    answer = client.post("/generations-motion-svd", json={"imageId": generation_id})
    assert answer.status_code == 400
    error = answer.json()
    assert error["error"].startswith("Service Error") and error["path"] == "$.imageId"
    assert "generations_by_pk.generated_images[].id" in error["error"] and image_id in error["error"]


def test_bad_motion_requests_say_what_to_send(server: LiveServer) -> None:
    client = server.client("sloppy")
    _, image_id = finished_image(client)
    cases = [
        ({}, "imageId"),
        ({"imageId": image_id, "motionStrength": 11}, "motionStrength"),
        ({"imageId": image_id, "motionStrength": "fast"}, "motionStrength"),
    ]
    for body, field in cases:
        answer = client.post("/generations-motion-svd", json=body)
        assert answer.status_code == 400 and answer.json()["path"] == f"$.{field}", answer.text
    other = server.client("stranger").post("/generations-motion-svd", json={"imageId": image_id})
    assert other.status_code == 404  # another user's image is unknown, never confirmed
    numeric = client.post("/generations-motion-svd", json={"imageId": image_id, "motionStrength": "3"})
    assert numeric.status_code == 200  # numeric strings, as form-posting scripts send them
    as_image_model = client.post("/generations", json={"prompt": "x", "modelId": TINY_SVD_ID})
    assert as_image_model.status_code == 400 and "is a motion model" in as_image_model.json()["error"]
    listed = [m["id"] for m in client.get("/platformModels").json()["custom_models"]]
    assert TINY_SVD_ID not in listed  # the SDK types platform models as image models
    # A stock SVD folder cannot follow a prompt: image- and text-to-video say so and point to motion-svd.
    for path, body in [
        ("/generations-image-to-video", {"imageId": image_id, "imageType": "GENERATED", "prompt": "moving left"}),
        ("/generations-text-to-video", {"prompt": "a red circle moving left"}),
    ]:
        answer = client.post(path, json=body)
        assert answer.status_code == 400 and "/generations-motion-svd" in answer.json()["error"], answer.text


def test_a_variation_makes_a_video_too(server: LiveServer) -> None:
    client = server.client("uploader")
    _, image_id = finished_image(client)
    variation = client.post("/variations/nobg", json={"id": image_id}).json()["sdNobgJob"]["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/variations/{variation}").json()["generated_image_variation_generic"][0]["status"] == "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # Ids are unique: a variation id without isVariation is accepted as well.
    answer = client.post("/generations-motion-svd", json={"imageId": variation})
    assert answer.status_code == 200, answer.text
    done = wait_for_generation(client, answer.json()["motionSvdGenerationJob"]["generationId"])
    assert done["status"] == "COMPLETE" and done["generated_images"][0]["motionMP4URL"].endswith(".mp4")


def finished_video(client: httpx.Client) -> str:
    """The generation id of a finished motion generation."""
    _, image_id = finished_image(client)
    answer = client.post("/generations-motion-svd", json={"imageId": image_id, "motionStrength": 2})
    motion_id = answer.json()["motionSvdGenerationJob"]["generationId"]
    assert wait_for_generation(client, motion_id)["status"] == "COMPLETE"
    return motion_id


def test_video_upscale_to_720_with_the_python_sdk(server: LiveServer) -> None:
    client = server.client("upscaler")
    motion_id = finished_video(client)
    sdk = sdk_for(server, "upscaler")
    job = sdk.motion.create_video_upscale(request={"resolution": "RESOLUTION_720", "source_generation_id": motion_id})
    out = job.object.motion_video_generation_job
    assert out.generation_id == motion_id and out.variation_id
    deadline = time.monotonic() + 60
    while True:
        [item] = sdk.variation.get_motion_variation_by_id(id=out.variation_id).object.generated_image_variation_motion
        if item.status != "PENDING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert item.status == "COMPLETE" and item.motion_transform_type == "UPSCALE" and item.resolution == "RESOLUTION_720"
    mp4 = httpx.get(item.url)
    assert mp4.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(mp4.content)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert (stream.codec_context.pix_fmt, len(frames)) == ("yuv420p", FRAMES)
        assert (frames[0].width, frames[0].height) == (720, 720)
    assert client.get(f"/motion-variations/{out.variation_id}").status_code == 200
    assert server.client("peeker").get(f"/motion-variations/{out.variation_id}").status_code == 404
    assert client.delete(f"/generations/{motion_id}").status_code == 200
    assert httpx.get(item.url).status_code == 404  # its file went with the generation


def test_video_upscale_refusals_say_what_to_pass(server: LiveServer) -> None:
    client = server.client("upscale-mistakes")
    generation_id, image_id = finished_image(client)
    motion_id = finished_video(client)
    cases = [
        ({"sourceGenerationId": generation_id, "resolution": "RESOLUTION_720"}, "made images, not a video"),
        ({"sourceGenerationId": image_id, "resolution": "RESOLUTION_720"}, f"pass the generation id, {generation_id}"),
        ({"sourceGenerationId": motion_id, "resolution": "RESOLUTION_1080"}, "resolution must be RESOLUTION_720"),
    ]
    for body, words in cases:
        answer = client.post("/generations-video-upscale", json=body)
        assert answer.status_code == 400 and words in answer.json()["error"], answer.text


def test_motion_with_the_typescript_sdk(server: LiveServer) -> None:
    """The TS SDK validates every motion response with zod; tests/ts/motion.mjs runs the whole flow."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: the TypeScript SDK tests need Node 20+ (make test installs it)"
    env = {**os.environ, "SERVER_URL": server.api_url, "API_KEY": server.user("ts-mover")["api_key"]}
    proc = subprocess.run(
        [node, str(TS_DIR / "motion.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK motion scenario" in proc.stdout


def test_a_finished_motion_job_sends_a_signed_video_generation_webhook(server: LiveServer) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    try:
        key = webhook_key(server, "hooked-mover", receiver.url)
        client = httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
        _, image_id = finished_image(client)
        answer = client.post("/generations-motion-svd", json={"imageId": image_id, "motionStrength": 4})
        motion_id = answer.json()["motionSvdGenerationJob"]["generationId"]
        receiver.wait_for(
            lambda r: any(json.loads(x.body)["type"] == "video_generation.complete" for x in r.received),
            what="the motion webhook",
        )
        got = next(x for x in receiver.received if json.loads(x.body)["type"] == "video_generation.complete")
        Webhook(key["signing_secret"]).verify(got.body, got.headers)  # raises if the signature is wrong
        gen = got.json["data"]["object"]
        assert gen["id"] == motion_id and gen["status"] == "COMPLETE" and gen["motion"] is True
        [video] = gen["images"]
        assert video["motionStrength"] == 4 and httpx.get(video["motionMP4URL"]).headers["content-type"] == "video/mp4"
    finally:
        receiver.stop()
