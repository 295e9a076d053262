"""The bundled Starter model through the API, as a user sees it: the official Python SDK asks for held-out
captions (attribute pairs the model never saw in training), and the checker reads colour and position back
from the pixels of the returned PNGs. The same seed must give the same bytes."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from sfumato.starter import STARTER_MODEL_ID
from sfumato.starter.checker import read_scene
from sfumato.testing.live_server import LiveServer
from tests.api.test_python_sdk import poll, sdk

# (caption, background, [(colour, side), ...]); every (colour, shape) pair here is held out of training.
# The shipped weights place objects on the named side (left/right) but do not yet tell top from bottom or
# get shapes right (docs/starter-model.md), so this asserts background, colours and the horizontal side.
CASES = [
    ("a red circle on the left, on a blue background", "blue", [("red", "left")]),
    ("on a white background, a green square on the right", "white", [("green", "right")]),
    ("a yellow star on the left on a black background", "black", [("yellow", "left")]),
    (
        "a cyan diamond on the left and a blue triangle on the right, on a black background",
        "black",
        [("cyan", "left"), ("blue", "right")],
    ),
]


def _side(x: float) -> str:
    return "left" if x < 0.4 else "right" if x > 0.6 else "center"


def _generate(server: LiveServer, prompt: str, seed: int, width: int, height: int) -> list[bytes]:
    client = sdk(server, "starter-user")
    res = client.image.create_generation(
        request={
            "prompt": prompt,
            "model_id": STARTER_MODEL_ID,
            "num_images": 2,
            "width": width,
            "height": height,
            "seed": seed,
        }
    )
    gen = poll(client, res.object.sd_generation_job.generation_id)
    assert gen.status == "COMPLETE"
    return [httpx.get(image.url).content for image in gen.generated_images]


def _pixels(png: bytes) -> np.ndarray:
    # the engine renders at the model's small native bucket and resizes up; read at a modest size
    img = Image.open(io.BytesIO(png)).convert("RGB")
    return np.asarray(img.resize((img.width // 8, img.height // 8), Image.Resampling.BOX))


def test_held_out_captions_come_back_with_the_right_colours_and_positions(live_server: LiveServer) -> None:
    hits = total = 0
    for i, (prompt, background, objects) in enumerate(CASES):
        for png in _generate(live_server, prompt, seed=100 + i, width=512, height=384):
            reading = read_scene(_pixels(png), max_objects=len(objects))
            total += 1
            found = {(o.color, _side(o.centroid[0])) for o in reading.objects}
            hits += reading.background == background and all(obj in found for obj in objects)
    assert hits >= total * 3 // 4, f"{hits}/{total} images with the right background, colours and sides"


def test_same_seed_same_bytes_through_the_api(live_server: LiveServer) -> None:
    prompt = "a pink circle in the center, on a gray background"
    first = _generate(live_server, prompt, seed=42, width=256, height=256)
    second = _generate(live_server, prompt, seed=42, width=256, height=256)
    assert first == second
    assert first[0] != first[1], "the two images of one generation use seeds 42 and 43"
