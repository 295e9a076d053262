"""Custom models and elements over HTTP on a live server: train (a tenth of the recipe's steps on the tiny
SD 1.5), poll, generate with them, list, delete; platform elements; every refusal names the field and what to
send; other users get 404s."""

from __future__ import annotations

import httpx
import numpy as np

from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer, cli_json
from tests.images.support import generate
from tests.images.support import wait as wait_path
from tests.training.support import (
    OUTLINE_ELEMENT,
    STRIPES_ELEMENT,
    dataset_with_images,
    wait_training,
)

SEEDED = {"prompt": "a magicdonut on a blue background", "seed": 11, "num_images": 1, "width": 64, "height": 64}


def pixels(url: str) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    return np.asarray(Image.open(BytesIO(httpx.get(url).content)).convert("RGB"), dtype=np.int16)


def test_element_trains_applies_and_deletes(training_server: LiveServer) -> None:
    client = training_server.client("ella")
    user_id = training_server.user("ella")["user_id"]
    dataset_id = dataset_with_images(client)
    r = client.post(
        "/elements",
        json={
            "name": "donut",
            "datasetId": dataset_id,
            "instance_prompt": "magicdonut",
            "lora_focus": "Object",
            "num_train_epochs": 1,
            "learning_rate": 1e-06,
            "train_text_encoder": True,
        },
    )
    assert r.status_code == 200, r.text
    number = r.json()["sdTrainingJob"]["userLoraId"]
    assert isinstance(number, int)
    # The dataset stays while its training is PENDING.
    refused = client.delete(f"/datasets/{dataset_id}")
    assert refused.status_code in (200, 400)
    element = wait_training(client, f"/elements/{number}", "user_loras_by_pk")
    assert element["status"] == "COMPLETE", element
    assert element["focus"] == "Object" and element["instancePrompt"] == "magicdonut"
    assert element["trainingEpoch"] == 1 and element["learningRate"] == 1e-06 and element["resolution"] == 1024
    listed = client.get(f"/elements/user/{user_id}").json()["user_loras"]
    assert [e["id"] for e in listed] == [number]

    base = generate(client, SEEDED)
    applied = generate(client, {**SEEDED, "userElements": [{"userLoraId": float(number), "weight": 1}]})
    assert applied["status"] == "COMPLETE", applied
    (echo,) = applied["generation_elements"]
    assert echo["id"] == number and echo["weightApplied"] == 1 and echo["lora"]["name"] == "donut"
    zero = generate(client, {**SEEDED, "userElements": [{"userLoraId": str(number), "weight": 0}]})
    assert np.array_equal(pixels(zero["generated_images"][0]["url"]), pixels(base["generated_images"][0]["url"]))

    other = training_server.client("fred")
    assert other.get(f"/elements/{number}").status_code == 404
    r = other.post("/generations", json={**SEEDED, "userElements": [{"userLoraId": number}]})
    assert r.status_code == 400 and f"no element {number} of yours" in r.json()["error"]
    assert other.delete(f"/elements/{number}").status_code == 404

    deleted = client.delete(f"/elements/{number}")
    assert deleted.status_code == 200 and deleted.json()["delete_user_loras_by_pk"]["id"] == number
    assert client.get(f"/elements/{number}").status_code == 404
    r = client.post("/generations", json={**SEEDED, "userElements": [{"userLoraId": number}]})
    assert r.status_code == 400


def test_custom_model_trains_and_is_its_owners_model_id(training_server: LiveServer) -> None:
    client = training_server.client("ella")
    dataset_id = dataset_with_images(client)
    r = client.post(
        "/models",
        json={
            "name": "jack",
            "datasetId": dataset_id,
            "instance_prompt": "jackthedog",
            "description": "",
            "modelType": "CHARACTERS",
            "nsfw": False,
            "resolution": 768,
            "sd_Version": "v1_5",
            "strength": "VERY_LOW",
        },
    )
    assert r.status_code == 200, r.text
    model_id = r.json()["sdTrainingJob"]["customModelId"]
    pending = client.get(f"/models/{model_id}").json()["custom_models_by_pk"]
    assert pending["status"] in ("PENDING", "COMPLETE") and pending["type"] == "CHARACTERS"
    r = client.post("/generations", json={**SEEDED, "modelId": model_id})
    assert r.status_code in (200, 400)  # 400 while it trains: "still training"
    model = wait_training(client, f"/models/{model_id}", "custom_models_by_pk")
    assert model["status"] == "COMPLETE", model
    assert model["instancePrompt"] == "jackthedog" and model["sdVersion"] == "v1_5"
    assert (model["modelWidth"], model["modelHeight"]) == (768, 768)
    user_id = training_server.user("ella")["user_id"]
    assert model_id in [m["id"] for m in client.get(f"/models/user/{user_id}").json()["custom_models"]]

    made = generate(client, {**SEEDED, "prompt": "jackthedog on a red background", "modelId": model_id})
    assert made["status"] == "COMPLETE" and made["modelId"] == model_id
    assert made["generation_elements"] == []  # the model's own LoRA is the model, not an element

    other = training_server.client("fred")
    assert other.get(f"/models/{model_id}").status_code == 404
    mine = other.post("/generations", json={**SEEDED, "modelId": model_id})
    unknown = other.post("/generations", json={**SEEDED, "modelId": "11111111-2222-4333-8444-555555555555"})
    assert mine.status_code == unknown.status_code == 400
    assert mine.json()["error"].replace(model_id, "X") == unknown.json()["error"].replace(
        "11111111-2222-4333-8444-555555555555", "X"
    )
    assert client.delete(f"/models/{model_id}").json()["delete_custom_models_by_pk"]["id"] == model_id
    assert client.get(f"/models/{model_id}").status_code == 404
    assert client.post("/generations", json={**SEEDED, "modelId": model_id}).status_code == 400


def test_platform_elements_are_listed_and_applied(training_server: LiveServer) -> None:
    client = training_server.client("ella")
    loras = client.get("/elements").json()["loras"]
    assert {OUTLINE_ELEMENT, STRIPES_ELEMENT} <= {e["akUUID"] for e in loras}
    outline = next(e for e in loras if e["akUUID"] == OUTLINE_ELEMENT)
    assert outline["baseModel"] == "v1_5" and (outline["weightMin"], outline["weightMax"]) == (0, 2)
    assert httpx.get(outline["urlImage"]).headers["content-type"] == "image/png"
    both = [{"akUUID": OUTLINE_ELEMENT, "weight": 0.5}, {"akUUID": STRIPES_ELEMENT}]
    made = generate(client, {**SEEDED, "elements": both})
    assert made["status"] == "COMPLETE"
    assert [(e["lora"]["akUUID"], e["weightApplied"]) for e in made["generation_elements"]] == [
        (OUTLINE_ELEMENT, 0.5),
        (STRIPES_ELEMENT, 1.0),
    ]
    base = generate(client, SEEDED)
    after = generate(client, SEEDED)  # right after a generation with elements: the base pixels
    assert np.array_equal(pixels(base["generated_images"][0]["url"]), pixels(after["generated_images"][0]["url"]))
    assert not np.array_equal(pixels(base["generated_images"][0]["url"]), pixels(made["generated_images"][0]["url"]))


def test_refusals_say_what_to_send(training_server: LiveServer) -> None:
    client = training_server.client("ella")
    empty = client.post("/datasets", json={"name": "empty"}).json()["insert_datasets_one"]["id"]
    cases = [
        ("/models", {"name": "m", "datasetId": empty, "instance_prompt": "sks"}, "datasetId", "at least 5"),
        ("/models", {"name": "m", "instance_prompt": "sks"}, "datasetId", "POST /datasets"),
        ("/models", {"name": "m", "datasetId": empty, "instance_prompt": ""}, "instance_prompt", "jackthedog"),
        ("/models", {"name": "m", "datasetId": empty, "instance_prompt": "a", "resolution": 1024}, "resolution", "512"),
        (
            "/models",
            {"name": "m", "datasetId": empty, "instance_prompt": "a", "sd_version": "v9"},
            "sd_version",
            "v1_5",
        ),
        ("/elements", {"datasetId": empty, "lora_focus": "Shape"}, "lora_focus", "General"),
        ("/elements", {"datasetId": empty, "lora_focus": "Object"}, "instance_prompt", "Style"),
        ("/elements", {"datasetId": empty, "lora_focus": "Style", "num_train_epochs": 500}, "num_train_epochs", "250"),
        ("/elements", {"datasetId": empty, "lora_focus": "Style", "learning_rate": 0.5}, "learning_rate", "1e-6"),
        ("/elements", {"datasetId": "", "lora_focus": "Style"}, "datasetId", "POST /datasets"),
    ]
    for path, body, field, hint in cases:
        r = client.post(path, json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert field in r.json()["error"] and hint in r.json()["error"], (path, body, r.json())
    other_dataset = dataset_with_images(training_server.client("fred"))
    r = client.post("/models", json={"name": "m", "datasetId": other_dataset, "instance_prompt": "sks"})
    assert r.status_code == 404
    gen = [
        ({"elements": [{"akUUID": OUTLINE_ELEMENT, "weight": 3}]}, "from 0 to 2"),
        ({"elements": [{"akUUID": "nope"}]}, "GET /elements"),
        ({"elements": [{"akUUID": OUTLINE_ELEMENT}], "modelId": TINY_XL_MODEL_ID}, f"modelId {TINY_MODEL_ID}"),
        ({"userElements": [{"userLoraId": 1.5}]}, "integer"),
        ({"userElements": [{"userLoraId": 1e100}]}, "no element 1e+100 of yours"),  # beyond any database integer
        ({"userElements": [{"userLoraId": 2**31}]}, "no element 2147483648 of yours"),
        ({"userElements": ["x"]}, "list of objects"),
        ({"userElements": "x"}, "JSON array"),
    ]
    for body, hint in gen:
        r = client.post("/generations", json={**SEEDED, **body})
        assert r.status_code == 400 and hint in r.json()["error"], (body, r.json())
    for number in ("1e100", "2147483648", "-1", "0"):  # found by make fuzz: 1e100 was a 500 (driver overflow)
        assert client.get(f"/elements/{number}").status_code == 404
        assert client.delete(f"/elements/{number}").status_code == 404


def test_cancel_stops_a_training_and_the_wire_says_failed(training_server: LiveServer) -> None:
    client = training_server.client("gina")
    dataset_id = dataset_with_images(client)
    body = {"name": "long", "datasetId": dataset_id, "instance_prompt": "sks", "strength": "HIGH"}
    model_id = client.post("/models", json=body).json()["sdTrainingJob"]["customModelId"]
    result = cli_json(training_server.env, "jobs", "cancel", model_id)
    assert result["job_id"] == model_id and result["kind"] == "training"
    model = wait_training(client, f"/models/{model_id}", "custom_models_by_pk")
    assert model["status"] == "FAILED" and "cancel" in model["failureReason"]


def test_a_generation_waiting_on_a_deleted_element_fails_naming_it(training_server: LiveServer) -> None:
    client = training_server.client("hana")
    body = {"datasetId": dataset_with_images(client), "lora_focus": "Style", "num_train_epochs": 1}
    number = client.post("/elements", json=body).json()["sdTrainingJob"]["userLoraId"]
    assert wait_training(client, f"/elements/{number}", "user_loras_by_pk")["status"] == "COMPLETE"
    busy = {**SEEDED, "num_images": 8, "num_inference_steps": 60, "width": 512, "height": 512}
    ahead = [client.post("/generations", json=busy).json()["sdGenerationJob"]["generationId"] for _ in range(2)]
    waiting = client.post("/generations", json={**SEEDED, "userElements": [{"userLoraId": number}]})
    generation_id = waiting.json()["sdGenerationJob"]["generationId"]
    assert client.delete(f"/elements/{number}").status_code == 200
    failed = generate_wait(client, generation_id)  # two long jobs were ahead of it: the delete came first
    assert all(generate_wait(client, g)["status"] == "COMPLETE" for g in ahead)
    assert failed["status"] == "FAILED" and "was deleted before the job ran" in failed["failureReason"]
    assert "donut" not in failed["failureReason"] and str(number) in failed["failureReason"]


def generate_wait(client: httpx.Client, generation_id: str) -> dict:
    return wait_path(client, f"/generations/{generation_id}", timeout=300)
