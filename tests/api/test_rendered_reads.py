"""The polled reads send a generation's JSON rendered once per revision (api/rendered.py): the same bytes as a
fresh render, and a new render whenever anything the body shows changes, whoever wrote it (this server, another
process on the same database), while other users and deleted generations still get their 404."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from sfumato.api.rendered import RenderedGenerations
from sfumato.api.routes.generations import FINISH_WAIT_SECONDS
from sfumato.api.schemas.generations import (
    GeneratedImageOut,
    GenerationOut,
    GetGenerationResponse,
    ListGenerationsResponse,
    VariationGeneric,
)
from sfumato.api.schemas.training import GenerationElementOut, LoraOut
from sfumato.cli.generate import sse_events
from sfumato.jobs.core.events import FINISHING_FOR_SECONDS, JobDone, JobEvents, JobProgress
from sfumato.services.accounts import Accounts
from sfumato.services.urls import FileUrls
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import Generation
from sfumato.testing.live_server import LiveServer, wait_for_generation
from tests.images.support import generate, wait


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("poller-cache")


def _one(client: httpx.Client, generation_id: str) -> dict:
    r = client.get(f"/generations/{generation_id}")
    assert r.status_code == 200, r.text
    return r.json()["generations_by_pk"]


def _listed(client: httpx.Client, live_server: LiveServer, generation_id: str) -> dict:
    user_id = live_server.user("poller-cache")["user_id"]
    r = client.get(f"/generations/user/{user_id}", params={"limit": 50})
    assert r.status_code == 200, r.text
    return next(g for g in r.json()["generations"] if g["id"] == generation_id)


def test_kept_bytes_are_the_bytes_of_a_fresh_render() -> None:
    # Every optional part filled (variations, elements, motion fields) and some left None, which must stay out.
    variation = VariationGeneric(id="v1", status="COMPLETE", transformType="UPSCALE", url="http://x/v.png")
    image = GeneratedImageOut(
        id="i1",
        url="http://x/i.png",
        nsfw=False,
        likeCount=0,
        generated_image_variation_generics=[variation],
        motion=True,
        motionMP4URL="http://x/i.mp4",
        motionModel="SVD",
        motionStrength=5,
        imageToVideo=False,
    )
    lora = LoraOut(akUUID="e1", name="Ink", description="", baseModel="SD_1_5", urlImage=None, weightDefault=1)
    out = GenerationOut(
        id="g1",
        createdAt="2026-12-07T00:00:00.000",
        status="COMPLETE",
        prompt='a "quoted" prompt \u00e9',
        modelId="m1",
        imageWidth=64,
        imageHeight=64,
        inferenceSteps=10,
        guidanceScale=7.0,
        seed=1,
        scheduler="EULER_DISCRETE",
        sdVersion=None,
        presetStyle="NONE",
        public=False,
        tiling=False,
        photoReal=False,
        promptMagic=False,
        generated_images=[image],
        generation_elements=[GenerationElementOut(id=1, lora=lora, weightApplied=0.5)],
    )
    fragment = out.json_bytes()
    assert (
        b'{"generations_by_pk":' + fragment + b"}" == GetGenerationResponse(generations_by_pk=out).json_response().body
    )
    listed = ListGenerationsResponse(generations=[out, out]).json_response().body
    assert b'{"generations":[' + b",".join([fragment, fragment]) + b"]}" == listed
    assert b"null" not in fragment and b"negativePrompt" not in fragment


def test_kept_bytes_are_served_for_their_revision_only_and_the_oldest_go_first() -> None:
    kept = RenderedGenerations(enabled=True, capacity=2)
    kept.put("a", "http://h", ("COMPLETE", 1), b"A")
    assert kept.get("a", "http://h", ("COMPLETE", 1)) == b"A"
    assert kept.get("a", "http://h", ("COMPLETE", 2)) is None  # a newer revision: render again
    assert kept.get("a", "http://other", ("COMPLETE", 1)) is None  # links built on another base
    kept.put("b", "http://h", 1, b"B")
    kept.get("a", "http://h", ("COMPLETE", 1))  # "a" used last: "b" is the oldest now
    kept.put("c", "http://h", 1, b"C")
    assert kept.get("b", "http://h", 1) is None
    assert kept.get("a", "http://h", ("COMPLETE", 1)) == b"A" and kept.get("c", "http://h", 1) == b"C"


def test_off_where_file_urls_expire() -> None:
    assert RenderedGenerations.for_urls(FileUrls()).enabled is True  # our /cdn links never change
    assert (
        RenderedGenerations.for_urls(FileUrls(direct=lambda key: f"https://s3/{key}?X-Amz-Expires=3600")).enabled
        is False
    )


def test_a_new_variation_and_its_completion_show_in_both_reads(live_server: LiveServer, client: httpx.Client) -> None:
    done = generate(client, {"seed": 11})
    gen_id, image_id = done["id"], done["generated_images"][0]["id"]
    for _ in range(3):  # kept after the first read
        assert _one(client, gen_id)["generated_images"][0]["generated_image_variation_generics"] == []
    assert _listed(client, live_server, gen_id)["generated_images"][0]["generated_image_variation_generics"] == []
    r = client.post("/variations/upscale", json={"id": image_id})
    assert r.status_code == 200, r.text
    variation_id = r.json()["sdUpscaleJob"]["id"]
    shown = _one(client, gen_id)["generated_images"][0]["generated_image_variation_generics"]
    assert [v["id"] for v in shown] == [variation_id]  # at once, PENDING or already done
    finished = wait(client, f"/variations/{variation_id}")
    assert finished["status"] == "COMPLETE"
    for body in (_one(client, gen_id), _listed(client, live_server, gen_id)):
        (v,) = body["generated_images"][0]["generated_image_variation_generics"]
        assert (v["id"], v["status"], v["url"]) == (variation_id, "COMPLETE", finished["url"])


def test_a_write_by_another_process_shows_at_once(live_server: LiveServer, client: httpx.Client) -> None:
    gen_id = generate(client, {"seed": 12})["id"]
    assert _one(client, gen_id)["public"] is False and _listed(client, live_server, gen_id)["public"] is False
    # As a Celery worker or a second API host would: its own engine on the same database file.
    db = Database(f"sqlite:///{Path(live_server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}")
    try:
        with db.session() as s:
            row = s.get(Generation, gen_id)
            assert row is not None
            row.public = True
    finally:
        db.dispose()
    assert _one(client, gen_id)["public"] is True and _listed(client, live_server, gen_id)["public"] is True


def test_kept_generations_stay_private_and_go_with_deletion(live_server: LiveServer, client: httpx.Client) -> None:
    gen_id = generate(client, {"seed": 13})["id"]
    _one(client, gen_id)  # kept now
    stranger = live_server.client("poller-cache-stranger")
    r = stranger.get(f"/generations/{gen_id}")
    assert r.status_code == 404
    assert client.delete(f"/generations/{gen_id}").status_code == 200
    assert client.get(f"/generations/{gen_id}").status_code == 404
    user_id = live_server.user("poller-cache")["user_id"]
    listed = client.get(f"/generations/user/{user_id}", params={"limit": 50}).json()["generations"]
    assert gen_id not in [g["id"] for g in listed]


def test_a_poll_of_a_job_past_its_last_step_answers_when_it_ends(live_server: LiveServer, client: httpx.Client) -> None:
    # Four 1024x768 images from a tiny model: the end (resizes, PNG encodes, files, COMPLETE) takes tens of ms
    # after the last step, so an answer at once would say PENDING.
    body = {"prompt": "a red circle", "width": 1024, "height": 768, "num_images": 4, "num_inference_steps": 12}
    generation_id = client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
    with client.stream("GET", f"/generations/{generation_id}/events", timeout=60) as r:
        for kind, data in sse_events(r.iter_lines()):
            if kind == "progress" and data["step"] == data["steps"]:
                break  # the last step is written: the job is finishing
            assert not (kind == "status" and data["status"] != "PENDING"), "ended before its last step was seen"
    started = time.monotonic()
    polled = client.get(f"/generations/{generation_id}").json()["generations_by_pk"]
    waited = time.monotonic() - started
    if polled["status"] == "PENDING":  # a loaded machine: the end took longer than the wait, which was served whole
        assert waited >= FINISH_WAIT_SECONDS, f"answered PENDING after {waited:.3f} s without waiting"
        polled = wait_for_generation(client, generation_id)
    else:
        assert waited < FINISH_WAIT_SECONDS + 1
    assert polled["status"] == "COMPLETE" and len(polled["generated_images"]) == 4


def test_only_a_job_past_its_last_step_in_this_process_is_finishing(sqlite_db: Database, tmp_path: Path) -> None:
    events = JobEvents(sqlite_db)
    user_id, _ = Accounts(sqlite_db, LocalFileStore(tmp_path / "files")).create_user("finisher")
    events.publish("generation", "job-1", user_id, JobProgress(3, 4))
    assert not events.finishing("job-1")
    events.publish("generation", "job-1", user_id, JobProgress(4, 4))
    assert events.finishing("job-1") and not events.finishing("job-2")
    with sqlite_db.session() as s:
        events.add(s, "generation", "job-1", user_id, JobDone("COMPLETE"))
    assert not events.finishing("job-1")
    events.publish("generation", "job-3", user_id, JobProgress(4, 4))
    events._finishing["job-3"] -= FINISHING_FOR_SECONDS + 1  # its end never came here (handed back, say)
    assert not events.finishing("job-3")
