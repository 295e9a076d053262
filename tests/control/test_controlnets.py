"""controlnets[] on POST /generations through the official Python SDK and raw HTTP: references steer the look,
an edge ControlNet steers the layout, and every id or combination this server cannot honour gets a 400 that
names the field and what to send instead."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.control.conftest import GUIDED_MODEL_ID, HALF_MODEL_ID, PLAIN_MODEL_ID, SMALL, ControlServer
from tests.images.support import fetch, generate, picture, pixels, upload


@pytest.fixture(scope="module")
def client(control_server: ControlServer) -> httpx.Client:
    return control_server.client()


def _outline(kind: str) -> Image.Image:
    """A picture whose edges the preprocessor finds: a disc or a bar on black."""
    img = Image.new("RGB", (64, 64), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    if kind == "disc":
        draw.ellipse([8, 8, 40, 40], fill=(255, 255, 255))
    else:
        draw.rectangle([36, 4, 60, 60], fill=(255, 255, 255))
    return img


def _sdk_generate(control_server: ControlServer, body: dict) -> dict:
    res = control_server.sdk().image.create_generation(request={"prompt": "a red cat", **SMALL, **body})
    generation_id = res.object.sd_generation_job.generation_id
    from tests.images.support import wait

    return wait(control_server.client(), f"/generations/{generation_id}")


def test_python_sdk_sends_133_0_and_a_character_reference_runs(control_server: ControlServer, client) -> None:
    ref = upload(client, picture())
    # the Python SDK puts preprocessorId on the wire as a float (133.0): it is the integer id
    gen = _sdk_generate(
        control_server,
        {
            "model_id": GUIDED_MODEL_ID,
            "controlnets": [
                {"init_image_id": ref, "init_image_type": "UPLOADED", "preprocessor_id": 133, "strength_type": "Mid"}
            ],
        },
    )
    assert gen["status"] == "COMPLETE", gen
    assert gen["imagePromptMethod"] == "latent-adain+colour-match"


def test_style_reference_moves_colours_toward_the_reference(client: httpx.Client) -> None:
    red = upload(client, Image.new("RGB", (64, 64), (235, 20, 20)))
    target = np.array([235, 20, 20], np.float32)

    def distance(controlnets: list | None) -> float:
        body = {"seed": 21, "modelId": GUIDED_MODEL_ID, **({"controlnets": controlnets} if controlnets else {})}
        out = pixels(fetch(generate(client, body)["generated_images"][0]["url"])).mean((0, 1))
        return float(np.linalg.norm(out - target))

    entry = {"initImageId": red, "initImageType": "UPLOADED", "preprocessorId": 67}
    plain = distance(None)
    low = distance([{**entry, "strengthType": "Low"}])
    high = distance([{**entry, "strengthType": "Max"}])
    content = distance([{**entry, "preprocessorId": 100.0, "weight": 1.6}])
    assert high < low < plain, (plain, low, high)
    assert content < plain, (plain, content)


def test_edge_controlnet_steers_the_layout(client: httpx.Client) -> None:
    disc, bar = upload(client, _outline("disc")), upload(client, _outline("bar"))

    def out(image_id: str | None, weight: float = 1.0) -> np.ndarray:
        body: dict = {"seed": 4, "modelId": GUIDED_MODEL_ID}
        if image_id:
            body["controlnets"] = [{"initImageId": image_id, "initImageType": "UPLOADED", "preprocessorId": 19}]
            body["controlnets"][0]["weight"] = weight
        gen = generate(client, body)
        assert gen["status"] == "COMPLETE", gen
        return pixels(fetch(gen["generated_images"][0]["url"]))

    free, with_disc, with_bar = out(None), out(disc), out(bar)
    faint = out(disc, weight=0.1)
    # the same seed and prompt: only the control image differs, and a weaker weight changes less
    assert np.abs(with_disc - with_bar).mean() > 0.3
    assert np.abs(with_disc - free).mean() > np.abs(faint - free).mean() > 0


def test_deprecated_controlnet_keys_guide_by_the_init_image(client: httpx.Client) -> None:
    disc = upload(client, _outline("disc"))
    body = {"seed": 4, "modelId": GUIDED_MODEL_ID, "init_image_id": disc, "controlNet": True}
    legacy = generate(client, {**body, "controlNetType": "CANNY", "weighting": 1.0})
    modern = generate(
        client,
        {
            "seed": 4,
            "modelId": GUIDED_MODEL_ID,
            "controlnets": [{"initImageId": disc, "initImageType": "UPLOADED", "preprocessorId": 19, "weight": 1.0}],
        },
    )
    assert legacy["status"] == modern["status"] == "COMPLETE"
    a, b = (pixels(fetch(g["generated_images"][0]["url"])) for g in (legacy, modern))
    assert np.array_equal(a, b)  # the same request in two spellings


def _error(client: httpx.Client, body: dict) -> tuple[int, str]:
    r = client.post("/generations", json={"prompt": "x", **SMALL, "modelId": GUIDED_MODEL_ID, **body})
    return r.status_code, r.json().get("error", "") if r.status_code != 200 else r.text


def test_ids_and_fields_this_server_cannot_honour_are_refused(control_server: ControlServer, client) -> None:
    init = upload(client, picture())
    done = generate(client, {"modelId": GUIDED_MODEL_ID})
    image_id = done["generated_images"][0]["id"]

    def entry(**kw: object) -> dict:
        return {"initImageId": init, "initImageType": "UPLOADED", "preprocessorId": 19, **kw}

    cases = [
        ({"controlnets": [entry(preprocessorId=999)]}, "19 (Edge to Image)"),
        ({"controlnets": [entry(preprocessorId=999)]}, "67 (Style Reference)"),
        ({"controlnets": [entry(preprocessorId=19.5)]}, "whole number"),
        ({"controlnets": [entry(preprocessorId="edge")]}, "integer preprocessor id"),
        ({"modelId": HALF_MODEL_ID, "controlnets": [entry(preprocessorId=20)]}, "depth estimator"),
        ({"modelId": PLAIN_MODEL_ID, "controlnets": [entry(preprocessorId=21)]}, "no pose ControlNet is installed"),
        ({"controlnets": [entry(strengthType="High")]}, "send weight"),
        ({"controlnets": [entry(weight=3)]}, "from 0 to 2"),
        ({"controlnets": [entry(preprocessorId=67, weight=1, strengthType="Low")]}, "not both"),
        ({"controlnets": [entry(preprocessorId=133, strengthType="Max")]}, "Low, Mid, High"),
        ({"controlnets": [entry(initImageType="GENERATED")]}, "send initImageType UPLOADED"),
        ({"controlnets": [entry(initImageId=image_id)]}, "send initImageType GENERATED"),
        ({"controlnets": [entry(initImageId=done["id"], initImageType="GENERATED")]}, "generation id"),
        ({"controlnets": [entry(initImageType="LOCAL")]}, "GENERATED or UPLOADED"),
        ({"controlnets": [{"initImageId": init, "initImageType": "UPLOADED"}]}, "preprocessorId is missing"),
        ({"controlnets": [{"preprocessorId": 19}]}, "initImageId is missing"),
        ({"controlnets": [entry()] * 5}, "at most 4"),
        ({"controlnets": ["19"]}, "must be an object"),
        ({"modelId": PLAIN_MODEL_ID, "controlnets": [entry()]}, "no edge ControlNet is installed"),
        ({"controlNet": True, "controlNetType": "CANNY"}, "init_image_id"),
        ({"controlNet": True, "controlNetType": "HED", "init_image_id": init}, "POSE, CANNY or DEPTH"),
        ({"controlNetType": "CANNY", "init_image_id": init}, "controlNet: true"),
        ({"weighting": 0.5}, "controlNet: true"),
    ]
    for body, words in cases:
        status, error = _error(client, body)
        assert status == 400, (body, error)
        assert words in error, (body, error)
    # the plain model does not list 19 among what it serves
    status, error = _error(client, {"modelId": PLAIN_MODEL_ID, "controlnets": [entry(preprocessorId=999)]})
    assert status == 400 and "19 (" not in error and "133 (Character Reference)" in error
    # another user's image is unknown
    other = control_server.client("stranger")
    r = other.post("/generations", json={"prompt": "x", **SMALL, "controlnets": [entry(preprocessorId=67)]})
    assert r.status_code == 404, r.text
