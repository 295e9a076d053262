"""Trainings as jobs: the operator's CLI (train with progress, list, show the full state), a SIGKILL of the
server mid-training (it resumes from its checkpoint after the restart and completes once), and the
training-finished webhook body."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from sfumato.testing.live_server import LiveServer, cli, cli_json
from tests.training.support import dataset_with_images, wait_training
from tests.webhooks.support import webhook_key


def test_operator_trains_a_model_from_the_cli_and_sees_its_state(training_server: LiveServer) -> None:
    client = training_server.client("olga")
    dataset_id = dataset_with_images(client)
    done = cli_json(
        training_server.env,
        "models", "train", "olga", "--dataset", dataset_id, "--instance-prompt", "sks",
        "--strength", "VERY_LOW", "--name", "from the cli",
    )  # fmt: skip
    assert done["state"] == "succeeded" and done["step"] == done["steps"] == 20, done
    model = client.get(f"/models/{done['id']}").json()["custom_models_by_pk"]
    assert model["status"] == "COMPLETE" and model["name"] == "from the cli"
    listed = cli_json(training_server.env, "trainings", "list", "--user", "olga")
    assert done["id"] in [t["id"] for t in listed]
    text = cli(training_server.env, "trainings", "show", done["id"]).stdout
    assert "succeeded" in text and "from the cli" in text
    refused = cli(
        training_server.env, "models", "train", "olga", "--dataset", "nope", "--instance-prompt", "x", check=False
    )
    assert refused.returncode == 1 and "dataset nope not found" in refused.stderr


@pytest.mark.timeout(900)
def test_a_killed_server_resumes_the_training_from_its_checkpoint(training_server: LiveServer) -> None:
    client = training_server.client("kim")
    dataset_id = dataset_with_images(client)
    body = {"name": "long", "datasetId": dataset_id, "instance_prompt": "sks", "strength": "LOW"}  # 40 steps
    model_id = client.post("/models", json=body).json()["sdTrainingJob"]["customModelId"]
    deadline = time.monotonic() + 300
    # Past step 25: its checkpoint is written before step 26 runs.
    while (client.get(f"/models/{model_id}").json()["custom_models_by_pk"].get("trainingStep") or 0) < 26:
        assert time.monotonic() < deadline, "the training never got past a checkpoint"
        time.sleep(0.1)
    training_server.kill()
    training_server.start()
    client = training_server.client("kim")
    model = wait_training(client, f"/models/{model_id}", "custom_models_by_pk")
    assert model["status"] == "COMPLETE", model
    lines = cli(training_server.env, "jobs", "events", model_id, "--json").stdout.splitlines()
    events = [json.loads(line) for line in lines]
    starts = [e for e in events if e["type"] == "started"]
    assert [e["detail"]["attempt"] for e in starts] == [1, 2], events  # killed once, run again once
    after_restart = [e for e in events if e["type"] == "progress" and e["seq"] > starts[1]["seq"]]
    assert after_restart and after_restart[0]["detail"]["step"] > 25, after_restart[:3]  # from the checkpoint
    assert [e["detail"]["status"] for e in events if e["type"] == "done"] == ["COMPLETE"]


def test_a_finished_training_notifies_the_keys_webhook(training_server: LiveServer) -> None:
    """Sfumato's own events (Leonardo documents none): the training's row as data.object, in the outbox with the
    job's end, for a model (custom_model) and an element (user_lora, integer id)."""
    key = webhook_key(training_server, "wendy", "http://127.0.0.1:9/training-hook")
    client = httpx.Client(base_url=training_server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
    dataset_id = dataset_with_images(client)
    body = {"name": "hooked", "datasetId": dataset_id, "instance_prompt": "sks", "strength": "VERY_LOW"}
    model_id = client.post("/models", json=body).json()["sdTrainingJob"]["customModelId"]
    element = {"datasetId": dataset_id, "lora_focus": "Style", "num_train_epochs": 1, "learning_rate": 1e-6}
    number = client.post("/elements", json=element).json()["sdTrainingJob"]["userLoraId"]
    assert wait_training(client, f"/models/{model_id}", "custom_models_by_pk")["status"] == "COMPLETE"
    assert wait_training(client, f"/elements/{number}", "user_loras_by_pk")["status"] == "COMPLETE"
    with sqlite3.connect(Path(training_server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
        rows = db.execute(
            "SELECT event_type, payload FROM webhook_deliveries WHERE api_key_id = ? ORDER BY created_at",
            (key["key_id"],),
        ).fetchall()
    bodies = {event: json.loads(payload) for event, payload in rows}
    assert set(bodies) == {"model_training.complete", "element_training.complete"}, list(bodies)
    model = bodies["model_training.complete"]
    assert model["object"] == "custom_model" and model["data"]["object"]["id"] == model_id
    assert model["data"]["object"]["status"] == "COMPLETE" and model["data"]["object"]["instancePrompt"] == "sks"
    lora = bodies["element_training.complete"]["data"]["object"]
    assert bodies["element_training.complete"]["object"] == "user_lora" and lora["id"] == number
    assert lora["focus"] == "Style" and lora["datasetId"] == dataset_id
