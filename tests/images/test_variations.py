"""Upscale, unzoom and no-background variations: jobs with their own ids, listed under their image."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image

from sfumato.testing.live_server import LiveServer
from tests.images.support import fetch, file_count, generate, picture, pixels, upload, wait


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("varier")


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=live_server.user("varier")["api_key"], server_url=live_server.api_url)


@pytest.fixture(scope="module")
def image(client: httpx.Client) -> dict:
    gen = generate(client, {"seed": 3})
    return {"generation_id": gen["id"], **gen["generated_images"][0]}


def test_sdk_upscale_is_larger_and_close_when_downscaled(client: httpx.Client, sdk: LeonardoAiSDK, image: dict) -> None:
    job = sdk.variation.create_variation_upscale(request={"id": image["id"]}).object.sd_upscale_job
    done = wait(client, f"/variations/{job.id}")
    assert done["status"] == "COMPLETE" and done["transformType"] == "UPSCALE"
    res = sdk.variation.get_variation_by_id(id=job.id).object.generated_image_variation_generic
    assert isinstance(res, list) and res[0].id == job.id and res[0].url == done["url"]
    original, upscaled = fetch(image["url"]), fetch(done["url"])
    assert upscaled.size == (original.width * 2, original.height * 2)
    back = upscaled.resize(original.size, Image.Resampling.LANCZOS)
    assert np.abs(pixels(back) - pixels(original)).mean() < 12


def test_unzoom_keeps_the_centre_and_chains_from_a_variation(
    client: httpx.Client, sdk: LeonardoAiSDK, image: dict
) -> None:
    first = wait(
        client,
        f"/variations/{sdk.variation.create_variation_upscale(request={'id': image['id']}).object.sd_upscale_job.id}",
    )  # noqa: E501
    job = sdk.variation.create_variation_unzoom(request={"id": first["id"], "is_variation": True}).object
    done = wait(client, f"/variations/{job.sd_unzoom_job.id}")
    assert done["status"] == "COMPLETE" and done["transformType"] == "UNZOOM"
    source, out = fetch(first["url"]), fetch(done["url"])
    assert out.size == source.size
    w, h = source.size
    inner = source.resize((round(w * 2 / 3), round(h * 2 / 3)), Image.Resampling.LANCZOS)
    left, top = (w - inner.width) // 2, (h - inner.height) // 2
    m = 8  # away from the blended seam
    centre = out.crop((left + m, top + m, left + inner.width - m, top + inner.height - m))
    expected = inner.crop((m, m, inner.width - m, inner.height - m))
    assert np.abs(pixels(centre) - pixels(expected)).mean() < 3


def test_nobg_gives_rgba_and_all_are_listed_under_the_image(client: httpx.Client, image: dict) -> None:
    r = client.post("/variations/nobg", json={"id": image["id"]})
    assert r.status_code == 200, r.text
    done = wait(client, f"/variations/{r.json()['sdNobgJob']['id']}")
    assert done["status"] == "COMPLETE" and fetch(done["url"]).mode == "RGBA"
    gen = client.get(f"/generations/{image['generation_id']}").json()["generations_by_pk"]
    listed = gen["generated_images"][0]["generated_image_variation_generics"]
    assert {v["transformType"] for v in listed} >= {"UPSCALE", "NOBG"}
    assert all(v["status"] and v["url"] for v in listed if v["status"] == "COMPLETE")


def test_variation_mistakes_teach(live_server: LiveServer, client: httpx.Client, image: dict) -> None:
    init_id = upload(client, picture())
    for body, status, words in [
        ({"id": image["generation_id"]}, 400, "generation id"),
        ({"id": init_id}, 400, "init image"),
        ({}, 400, "generated image id"),
        ({"id": "no-such-id"}, 404, "no image"),
    ]:
        r = client.post("/variations/upscale", json=body)
        assert r.status_code == status, (body, r.text)
        assert words in r.json()["error"]
    assert client.get(f"/variations/{image['id']}").status_code == 400
    other = live_server.client("variation-thief")
    assert other.post("/variations/nobg", json={"id": image["id"]}).status_code == 404


def test_deleting_the_generation_removes_variation_files(live_server: LiveServer, client: httpx.Client) -> None:
    gen = generate(client, {"seed": 12})
    r = client.post("/variations/nobg", json={"id": gen["generated_images"][0]["id"]})
    done = wait(client, f"/variations/{r.json()['sdNobgJob']['id']}")
    before = file_count(live_server)
    assert client.delete(f"/generations/{gen['id']}").status_code == 200
    assert file_count(live_server) == before - 2  # the image and its variation
    assert httpx.get(done["url"]).status_code == 404
    assert client.get(f"/variations/{done['id']}").status_code == 404
