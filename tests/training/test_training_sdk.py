"""The official Python SDK (leonardo-ai-sdk) runs the whole training flow against a live server: dataset,
presigned upload and copy from a generation, custom model trained with the SDK's defaults, polled and used,
elements listed, trained, applied and deleted; every response passes the SDK's validation."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from leonardo_ai_sdk import LeonardoAiSDK

from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer
from tests.images.support import encode
from tests.training.support import OUTLINE_ELEMENT, shape_picture

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
SMALL = {"num_images": 1, "width": 64, "height": 64, "model_id": TINY_MODEL_ID, "num_inference_steps": 10}


def until(read: Callable[[], Any], timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = read()
        assert item is not None, "the SDK could not parse the body"
        if item.status != "PENDING":
            return item
        time.sleep(0.3)
    raise AssertionError("still PENDING")


def test_the_python_sdk_trains_and_uses_a_custom_model_and_an_element(training_server: LiveServer) -> None:
    client = LeonardoAiSDK(bearer_auth=training_server.user("sdk-user")["api_key"], server_url=training_server.api_url)
    user_id = client.user.get_user_self().object.user_details[0].user.id

    dataset_id = client.dataset.create_dataset(request={"name": "rings"}).object.insert_datasets_one.id
    for n in range(4):
        up = client.dataset.upload_dataset_image(dataset_id=dataset_id, request_body={"extension": "png"})
        target = up.object.upload_dataset_image
        files = {"file": ("ring.png", encode(shape_picture(n), "PNG"), "image/png")}
        assert httpx.post(target.url, data=json.loads(target.fields), files=files).status_code == 204
    made = client.image.create_generation(request={"prompt": "a ring", **SMALL})
    generation_id = made.object.sd_generation_job.generation_id
    generation = until(lambda: client.image.get_generation_by_id(id=generation_id).object.generations_by_pk)
    copied = client.dataset.upload_dataset_image_from_gen(
        dataset_id=dataset_id, request_body={"generated_image_id": generation.generated_images[0].id}
    )
    assert copied.object.upload_dataset_image_from_gen.id
    dataset = client.dataset.get_dataset_by_id(id=dataset_id).object.datasets_by_pk
    assert len(dataset.dataset_images) == 5 and all(i.url for i in dataset.dataset_images)

    # The SDK sends its defaults: resolution 512, modelType GENERAL, strength MEDIUM, nsfw false.
    job = client.models.create_model(request={"name": "ringmodel", "dataset_id": dataset_id, "instance_prompt": "sks"})
    model_id = job.object.sd_training_job.custom_model_id
    model = until(lambda: client.models.get_model_by_id(id=model_id).object.custom_models_by_pk)
    assert model.status == "COMPLETE" and model.instance_prompt == "sks" and model.model_width == 512
    listed = client.models.get_custom_models_by_user_id(user_id=user_id).object.custom_models
    assert [m.id for m in listed] == [model_id]
    made = client.image.create_generation(request={**SMALL, "prompt": "a sks", "model_id": model_id})
    used = until(
        lambda: (
            client.image.get_generation_by_id(id=made.object.sd_generation_job.generation_id).object.generations_by_pk
        )
    )
    assert used.status == "COMPLETE" and used.model_id == model_id

    loras = client.elements.list_elements().object.loras
    assert OUTLINE_ELEMENT in [e.ak_uuid for e in loras]
    element_job = client.elements.create_element(
        request={"dataset_id": dataset_id, "lora_focus": "Style", "num_train_epochs": 1, "learning_rate": 1e-6}
    )
    number = element_job.object.sd_training_job.user_lora_id
    element = until(lambda: client.elements.get_element_by_id(id=number).object.user_loras_by_pk)
    assert element.status == "COMPLETE" and element.base_model == "FLUX_DEV" and element.id == number
    assert [e.id for e in client.elements.get_custom_elements_by_user_id(user_id=user_id).object.user_loras] == [number]
    made = client.image.create_generation(
        request={
            **SMALL,
            "prompt": "a ring",
            "elements": [{"ak_uuid": OUTLINE_ELEMENT, "weight": 0.5}],
            "user_elements": [{"user_lora_id": number, "weight": 1.0}],
        }
    )
    both = until(
        lambda: (
            client.image.get_generation_by_id(id=made.object.sd_generation_job.generation_id).object.generations_by_pk
        )
    )
    assert both.status == "COMPLETE"
    assert [e.weight_applied for e in both.generation_elements] == [0.5, 1.0]
    assert both.generation_elements[0].lora.ak_uuid == OUTLINE_ELEMENT and both.generation_elements[1].id == number

    assert client.elements.delete_element_by_id(id=number).object.delete_user_loras_by_pk.id == number
    assert client.models.delete_model_by_id(id=model_id).object.delete_custom_models_by_pk.id == model_id
    assert client.dataset.delete_dataset_by_id(id=dataset_id).object.delete_datasets_by_pk.id == dataset_id


def test_the_typescript_sdk_runs_the_training_flow(training_server: LiveServer, tmp_path: Path) -> None:
    """zod validates every response; tests/ts/training.mjs runs the flow (its steps name what failed)."""
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: the TypeScript SDK tests need Node 20+ (make test installs it)"
    png = tmp_path / "ring.png"
    shape_picture(3).save(png)
    env = {
        **os.environ,
        "SERVER_URL": training_server.api_url,
        "API_KEY": training_server.user("ts-training")["api_key"],
        "MODEL_ID": TINY_MODEL_ID,
        "ELEMENT": OUTLINE_ELEMENT,
        "PNG_FILE": str(png),
        "POLL_TIMEOUT_S": "300",
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "training.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK training scenario" in proc.stdout
