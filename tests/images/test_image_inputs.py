"""Image-to-image, image prompts and transparency through the live server; and the id mistakes that teach."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image

from sfumato.testing.live_server import LiveServer
from tests.images.support import SMALL, fetch, generate, picture, pixels, reserve, upload


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("painter")


@pytest.fixture(scope="module")
def generated(client: httpx.Client) -> dict:
    return generate(client, {"seed": 5})


def test_sdk_image_to_image_records_strength_and_ids(live_server: LiveServer, client: httpx.Client) -> None:
    sdk = LeonardoAiSDK(bearer_auth=live_server.user("painter")["api_key"], server_url=live_server.api_url)
    init_id = upload(client, picture())
    res = sdk.image.create_generation(
        request={"prompt": "a red circle", "init_image_id": init_id, "init_strength": 0.7, **SMALL}
    )
    gen = generate(client, {"init_image_id": init_id, "init_strength": 0.7, "isInitImage": True})
    assert gen["status"] == "COMPLETE" and gen["initStrength"] == 0.7
    assert res.object.sd_generation_job.generation_id


def test_higher_init_strength_keeps_more_of_the_input(client: httpx.Client) -> None:
    """Two mirrored inputs, same seed: the outputs differ in proportion to how much of the input is kept.
    (Tiny random models decode no recognisable picture, so correlation with the input itself says little;
    how strongly the output depends on the input is what init_strength controls, and that is measurable.)"""
    left = picture()
    right = left.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    ids = [upload(client, left), upload(client, right)]

    def spread(strength: float) -> float:
        outs = [
            pixels(
                fetch(
                    generate(client, {"init_image_id": i, "init_strength": strength, "seed": 9})["generated_images"][0][
                        "url"
                    ]
                )
            )
            for i in ids
        ]
        return float(np.abs(outs[0] - outs[1]).mean())

    keep, change = spread(0.9), spread(0.1)
    assert keep > 3 * change, (keep, change)


def test_generated_image_as_init(client: httpx.Client, generated: dict) -> None:
    image_id = generated["generated_images"][0]["id"]
    gen = generate(client, {"init_generation_image_id": image_id, "init_strength": 0.5})
    assert gen["status"] == "COMPLETE" and gen["initStrength"] == 0.5


def test_image_prompt_moves_colours_toward_the_prompt(client: httpx.Client) -> None:
    red = Image.new("RGB", (64, 64), (235, 20, 20))
    prompt_id = upload(client, red)
    plain = pixels(fetch(generate(client, {"seed": 77})["generated_images"][0]["url"])).mean((0, 1))
    gen = generate(client, {"seed": 77, "imagePrompts": [prompt_id], "imagePromptWeight": 0.6})
    steered = pixels(fetch(gen["generated_images"][0]["url"])).mean((0, 1))
    target = np.array([235, 20, 20], np.float32)
    assert np.linalg.norm(steered - target) < 0.7 * np.linalg.norm(plain - target), (plain, steered)


def test_transparency_foreground_only_gives_rgba(client: httpx.Client) -> None:
    gen = generate(client, {"transparency": "foreground_only"})
    assert fetch(gen["generated_images"][0]["url"]).mode == "RGBA"


def test_wrong_kinds_of_ids_teach(live_server: LiveServer, client: httpx.Client, generated: dict) -> None:
    image_id = generated["generated_images"][0]["id"]
    init_id = upload(client, picture())
    pending = reserve(client)["id"]
    cases = [
        ({"init_generation_image_id": generated["id"]}, "generation id"),
        ({"init_image_id": generated["id"]}, "generation id"),
        ({"imagePrompts": [generated["id"]]}, "generation id"),
        ({"init_generation_image_id": init_id}, "pass it as init_image_id"),
        ({"init_image_id": image_id}, "pass it as init_generation_image_id"),
        ({"init_image_id": pending}, "has no file yet"),
        ({"init_image_id": init_id, "init_strength": 0.95}, "0.1 to 0.9"),
        ({"init_image_id": init_id, "init_generation_image_id": image_id}, "not both"),
        ({"transparency": "sometimes"}, "foreground_only"),
        ({"imagePromptWeight": 1.5}, "0 to 1"),  # refused without imagePrompts too, as the spec's range says
        ({"imagePrompts": [init_id], "imagePromptWeight": -0.1}, "0 to 1"),
    ]
    for body, words in cases:
        r = client.post("/generations", json={"prompt": "x", **SMALL, **body})
        assert r.status_code == 400, (body, r.text)
        assert words in r.json()["error"], (body, r.json())
    other = live_server.client("intruder")
    for body in ({"init_image_id": init_id}, {"init_generation_image_id": image_id}, {"imagePrompts": [init_id]}):
        r = other.post("/generations", json={"prompt": "x", **SMALL, **body})
        assert r.status_code == 404, (body, r.text)
