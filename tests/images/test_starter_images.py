"""Image inputs on the bundled starter model, through the API: its pictures mean something (flat shapes of the
colour asked for on a solid background), so what the tiny random models cannot show is measured here."""

from __future__ import annotations

import random

import httpx
import numpy as np
import pytest

from sfumato.starter.world import COLORS, Obj, Scene, render, to_pil
from sfumato.testing.live_server import LiveServer
from tests.images.support import fetch, generate, pixels, upload, wait

STARTER_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"  # src/sfumato/catalog/platform.json
STARTER = {"modelId": STARTER_ID, "width": 64, "height": 64, "num_inference_steps": 20, "guidance_scale": 4}


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("starter-painter")


def near(img: np.ndarray, colour: str, distance: float) -> np.ndarray:
    """Pixels within `distance` of the named world colour, shrunk by one pixel (anti-aliased edges out)."""
    mask = np.sqrt(((img - np.array(COLORS[colour], np.float32)) ** 2).sum(-1)) < distance
    core = mask.copy()
    core[1:] &= mask[:-1]
    core[:-1] &= mask[1:]
    core[:, 1:] &= mask[:, :-1]
    core[:, :-1] &= mask[:, 1:]
    return core


@pytest.mark.parametrize(
    ("prompt", "subject", "background"),
    [
        ("a large yellow star in the center, on a blue background", "yellow", "blue"),
        ("a large red circle in the center, on a white background", "red", "white"),  # often cut by the frame
    ],
)
def test_nobg_of_a_starter_picture(client: httpx.Client, prompt: str, subject: str, background: str) -> None:
    gen = generate(client, {**STARTER, "prompt": prompt, "seed": 0})
    assert gen["status"] == "COMPLETE", gen.get("failureReason")
    image = gen["generated_images"][0]
    r = client.post("/variations/nobg", json={"id": image["id"]})
    assert r.status_code == 200, r.text
    done = wait(client, f"/variations/{r.json()['sdNobgJob']['id']}")
    assert done["status"] == "COMPLETE", done.get("failureReason")
    picture, cut = pixels(fetch(image["url"])), fetch(done["url"])
    alpha = np.asarray(cut)[..., 3]
    fg, bg = near(picture, subject, 60), near(picture, background, 40)
    assert fg.sum() > 100 and bg.sum() > 1000, "the starter model did not paint what the prompt asked for"
    assert (alpha[fg] == 255).mean() > 0.98
    # Generated backgrounds shade a little next to the subject; the key gives such pixels a soft edge
    # (partial alpha, by design), so: nearly all background at least half transparent, most of it fully.
    assert (alpha[bg] < 128).mean() > 0.99 and (alpha[bg] == 0).mean() > 0.95


def test_image_to_image_correlation_falls_as_init_strength_is_lowered(client: httpx.Client) -> None:
    """A yellow star on blue as the input, a prompt for a different picture: the more of the input is kept
    (init_strength), the more the output correlates with it, pixel for pixel."""
    source = to_pil(render(Scene("blue", (Obj("star", "yellow", "center", "large"),)), 64, 64, random.Random(1)))
    init_id = upload(client, source)
    x = pixels(source).ravel()
    prompt = "a large red heart on the left, on a green background"

    def correlation(init_strength: float) -> float:
        gen = generate(
            client, {**STARTER, "prompt": prompt, "seed": 0, "init_image_id": init_id, "init_strength": init_strength}
        )
        assert gen["status"] == "COMPLETE", gen.get("failureReason")
        return float(np.corrcoef(x, pixels(fetch(gen["generated_images"][0]["url"])).ravel())[0, 1])

    keeps = (0.9, 0.7, 0.5, 0.1)
    found = [correlation(k) for k in keeps]
    assert found == sorted(found, reverse=True), dict(zip(keeps, found, strict=True))
    assert found[0] > 0.6 and found[0] - found[-1] > 0.5, dict(zip(keeps, found, strict=True))
