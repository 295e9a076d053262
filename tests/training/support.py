"""A live server for the training tests: the tiny models, two platform elements made for the tiny SD 1.5 (an
operator's catalog elements.json), trainings at a tenth of their recipes' steps, and helpers for the flow."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer, free_port, server_env
from tests.images.support import encode, post_form

OUTLINE_ELEMENT = "7d1f0c52-0e6b-4f0f-9a53-5b1f2c3d4e01"
STRIPES_ELEMENT = "7d1f0c52-0e6b-4f0f-9a53-5b1f2c3d4e02"


def start_training_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from sfumato.testing.loras import random_lora

    root = tmp_path_factory.mktemp("training")
    catalog = root / "catalog"
    catalog.mkdir()
    shutil.copy(tiny_catalog / "tiny.json", catalog / "tiny.json")
    sd15 = Path(json.loads((tiny_catalog / "tiny.json").read_text())[0]["path"])
    elements = []
    folder = catalog / "elements"
    for n, (ak, name) in enumerate(((OUTLINE_ELEMENT, "Test outline"), (STRIPES_ELEMENT, "Test stripes"))):
        random_lora(sd15, folder / name, seed=n)
        Image.new("RGB", (64, 64), (n * 100, 50, 50)).save(folder / name / "sample.png")
        elements.append(
            {
                "akUUID": ak,
                "name": name,
                "description": f"{name} for the tests",
                "baseModel": "v1_5",
                "base_model_id": TINY_MODEL_ID,
                "weightMin": 0,
                "weightMax": 2,
                "weightDefault": 1,
                "file": f"{name}/pytorch_lora_weights.safetensors",
                "sample": f"{name}/sample.png",
            }
        )
    (folder / "elements.json").write_text(json.dumps(elements))
    data = root / "data"
    env = server_env(data, catalog) | {
        "SFUMATO_TRAINING_STEPS_SCALE": "0.1",
        "SFUMATO_MIN_DATASET_IMAGES": "5",
        "SFUMATO_JOB_SWEEP_SECONDS": "1",  # trainings asked for with the CLI start at once
    }
    server = LiveServer(env, free_port(), root / "server.log")
    server.start()
    yield server
    server.stop()


def shape_picture(n: int) -> Image.Image:
    """A ring of a different colour on a different background per n."""
    img = Image.new("RGB", (64, 64), ((n * 53) % 256, 90, 160))
    draw = ImageDraw.Draw(img)
    draw.ellipse([16, 16, 48, 48], fill=(240, (n * 71) % 256, 40))
    draw.ellipse([26, 26, 38, 38], fill=((n * 53) % 256, 90, 160))
    return img


def dataset_with_images(client: httpx.Client, count: int = 5, name: str = "rings") -> str:
    r = client.post("/datasets", json={"name": name})
    assert r.status_code == 200, r.text
    dataset_id = r.json()["insert_datasets_one"]["id"]
    for n in range(count):
        reserved = client.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()
        assert post_form(reserved["uploadDatasetImage"], encode(shape_picture(n), "PNG")).status_code == 204
    return dataset_id


def wait_training(client: httpx.Client, path: str, key: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(path).json()[key]
        if body["status"] != "PENDING":
            return body
        time.sleep(0.3)
    raise AssertionError(f"{path} still PENDING after {timeout}s")
