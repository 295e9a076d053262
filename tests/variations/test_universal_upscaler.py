"""POST /variations/universal-upscaler through the official Python SDK on the shared live server (tiny models):
the output has the multiplied size and stays the input's picture, it starts from a generated image, an uploaded
init image or an earlier variation, creativity moves it further from the plain enlargement, the SDK's Ultra
requests (which also send upscalerStyle GENERAL) are served, and every mistake is a 400 naming its field."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image

from sfumato.testing.live_server import LiveServer
from tests.images.support import fetch, generate, picture, pixels, upload, wait


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("upscaler")


@pytest.fixture(scope="module")
def sdk(live_server: LiveServer) -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=live_server.user("upscaler")["api_key"], server_url=live_server.api_url)


@pytest.fixture(scope="module")
def image(client: httpx.Client) -> dict:
    gen = generate(client, {"seed": 11})
    return {"generation_id": gen["id"], **gen["generated_images"][0]}


def _done(client: httpx.Client, job_id: str) -> tuple[dict, Image.Image]:
    done = wait(client, f"/variations/{job_id}")
    assert done["status"] == "COMPLETE" and done["transformType"] == "UPSCALE", done
    return done, fetch(done["url"])


def _close(big: Image.Image, original: Image.Image) -> float:
    return float(np.abs(pixels(big.resize(original.size, Image.Resampling.LANCZOS)) - pixels(original)).mean())


def test_generated_image_is_upscaled_by_the_multiplier(client: httpx.Client, sdk: LeonardoAiSDK, image: dict) -> None:
    job = sdk.variation.create_universal_upscaler_job(
        request={"generated_image_id": image["id"], "upscale_multiplier": 1.5, "creativity_strength": 3}
    ).object.universal_upscaler
    done, big = _done(client, job.id)
    original = fetch(image["url"])
    assert big.size == (round(original.width * 1.5), round(original.height * 1.5))
    assert _close(big, original) < 12
    listed = client.get(f"/generations/{image['generation_id']}").json()["generations_by_pk"]["generated_images"][0]
    assert job.id in {v["id"] for v in listed["generated_image_variation_generics"]}


def test_uploaded_init_image_and_chained_ultra_upscale(client: httpx.Client, sdk: LeonardoAiSDK) -> None:
    source = picture((64, 48))
    init_id = upload(client, source)
    first = sdk.variation.create_universal_upscaler_job(
        request={"init_image_id": init_id, "upscale_multiplier": 2.0}
    ).object.universal_upscaler
    _, big = _done(client, first.id)
    assert big.size == (128, 96) and _close(big, source) < 12
    # The SDK sends upscalerStyle GENERAL with every request: ultraUpscaleStyle wins.
    chained = sdk.variation.create_universal_upscaler_job(
        request={
            "variation_id": first.id,
            "upscale_multiplier": 1.25,
            "ultra_upscale_style": "REALISTIC",
            "similarity": 10,
            "detail_contrast": 2,
        }
    ).object.universal_upscaler
    _, bigger = _done(client, chained.id)
    assert bigger.size == (160, 120) and _close(bigger, source) < 12
    # The upload's deletion leaves the user's upscales (their own pictures) in place.
    assert client.delete(f"/init-image/{init_id}").status_code == 200
    assert client.get(f"/variations/{first.id}").json()["generated_image_variation_generic"][0]["status"] == "COMPLETE"


def test_creativity_moves_further_from_the_plain_enlargement(client: httpx.Client, image: dict) -> None:
    original = fetch(image["url"])
    plain = pixels(original.resize((original.width * 2, original.height * 2), Image.Resampling.LANCZOS))
    distance = {}
    for creativity in (1, 10):
        r = client.post(
            "/variations/universal-upscaler",
            json={"generatedImageId": image["id"], "upscaleMultiplier": 2.0, "creativityStrength": creativity},
        )
        assert r.status_code == 200, r.text
        _, big = _done(client, r.json()["universalUpscaler"]["id"])
        distance[creativity] = float(np.abs(pixels(big) - plain).mean())
    assert distance[10] > distance[1], distance


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "generatedImageId", "exactly one of"),
        ({"generatedImageId": "IMG", "initImageId": "x"}, "initImageId", "exactly one of"),
        ({"generatedImageId": "IMG", "upscaleMultiplier": 2.5}, "upscaleMultiplier", "from 1.0 to 2.0"),
        ({"generatedImageId": "IMG", "creativityStrength": 11}, "creativityStrength", "from 1 to 10"),
        ({"generatedImageId": "IMG", "similarity": 5}, "similarity", "ultraUpscaleStyle"),
        ({"generatedImageId": "IMG", "upscalerStyle": "WATERCOLOUR"}, "upscalerStyle", "GENERAL"),
        ({"generatedImageId": "IMG", "ultraUpscaleStyle": "SOFT"}, "ultraUpscaleStyle", "ARTISTIC"),
        ({"generatedImageId": "GEN"}, "generatedImageId", "generation id"),
        ({"initImageId": "IMG"}, "initImageId", "generated image"),
    ],
)
def test_mistakes_get_a_400_naming_the_field(
    client: httpx.Client, image: dict, body: dict, field: str, words: str
) -> None:
    ids = {"IMG": image["id"], "GEN": image["generation_id"]}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    r = client.post("/variations/universal-upscaler", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["path"] == f"$.{field}" and words in r.json()["error"], r.json()
