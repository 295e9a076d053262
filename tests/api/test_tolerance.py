"""Public scripts call the API in rough ways; each must work (or get a JSON 4xx), never a 500."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sfumato.testing.live_server import API, TINY_MODEL_ID, LiveServer, wait_for_generation

SMALL = {"num_images": 1, "width": 64, "height": 64}


@pytest.fixture(scope="module")
def key(live_server: LiveServer) -> str:
    return live_server.user("rough")["api_key"]


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("rough")


def create(client: httpx.Client, body: dict) -> str:
    r = client.post("/generations", json=body)
    assert r.status_code == 200, r.text
    return r.json()["sdGenerationJob"]["generationId"]


def test_null_means_default_and_modelid_may_be_missing(client: httpx.Client) -> None:
    nulls = dict.fromkeys(["modelId", "width", "height", "presetStyle", "alchemy", "seed", "scheduler"])
    gen = wait_for_generation(client, create(client, {"prompt": "x", "num_images": 1, **nulls}))
    assert gen["status"] == "COMPLETE"
    assert (gen["imageWidth"], gen["imageHeight"]) == (1024, 768)
    assert gen["modelId"] == TINY_MODEL_ID and gen["presetStyle"] == "DYNAMIC"
    gen = wait_for_generation(client, create(client, {"prompt": "no model id", **SMALL}))
    assert gen["modelId"] == TINY_MODEL_ID


def test_unknown_keys_strings_for_numbers_and_enum_case(client: httpx.Client) -> None:
    body = {
        "prompt": "x",
        "sd_Version": "v2",
        "numImages": 3,
        "num_images": "1",
        "width": "64",
        "height": 64.0,
        "guidance_scale": "6.5",
        "seed": "42",
        "scheduler": "euler_discrete",
        "presetStyle": "cinematic",
        "public": "false",
        "tiling": "true",
    }
    gen = wait_for_generation(client, create(client, body))
    assert gen["status"] == "COMPLETE"
    assert gen["scheduler"] == "EULER_DISCRETE" and gen["presetStyle"] == "CINEMATIC"
    assert gen["seed"] == 42 and gen["guidanceScale"] == 6.5 and gen["tiling"] is True
    assert len(gen["generated_images"]) == 1


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_json_body_with_no_or_wrong_content_type(live_server: LiveServer, key: str, content_type: str | None) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = httpx.post(live_server.api_url + "/generations", content=json.dumps({"prompt": "x", **SMALL}), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["sdGenerationJob"]["generationId"]


def test_content_type_on_get_and_delete_without_body(live_server: LiveServer, key: str) -> None:
    headers = {"authorization": f"bearer {key}", "content-type": "application/json"}
    assert httpx.get(live_server.api_url + "/me", headers=headers).status_code == 200
    gid = create(live_server.client("rough"), {"prompt": "to delete", **SMALL})
    r = httpx.delete(f"{live_server.api_url}/generations/{gid}", headers=headers)
    assert r.status_code == 200 and r.json() == {"delete_generations_by_pk": {"id": gid}}


def test_header_names_in_any_case_and_bare_key(live_server: LiveServer, key: str) -> None:
    for headers in ({"AUTHORIZATION": f"Bearer {key}"}, {"authorization": f"BEARER {key}"}, {"Authorization": key}):
        assert httpx.get(live_server.api_url + "/me", headers=headers).status_code == 200


@pytest.mark.parametrize("path", ["//me", "/me/", "//platformModels//"])
def test_doubled_and_trailing_slashes(live_server: LiveServer, key: str, path: str) -> None:
    r = httpx.get(live_server.api_url + path, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "12345", "%20", "0f6c1b7e-2d7a-4c43-9d1e-6a0b3c2f9a11"])
def test_ids_that_do_not_exist_get_json_404(client: httpx.Client, bad_id: str) -> None:
    for method in ("GET", "DELETE"):
        r = client.request(method, f"/generations/{bad_id}")
        assert r.status_code == 404
        assert r.json()["code"] == "not-found" and r.json()["path"] == "$"


def test_pending_has_no_images_and_complete_has_all(client: httpx.Client) -> None:
    ids = [create(client, {"prompt": f"burst {n}", "num_images": 4, "width": 512, "height": 512}) for n in range(4)]
    seen_pending = False
    deadline = time.monotonic() + 120
    remaining = set(ids)
    while remaining and time.monotonic() < deadline:
        time.sleep(0.25)  # poll like a real client: the per-key limit is 2000 requests a minute
        for gid in list(remaining):
            gen = client.get(f"/generations/{gid}").json()["generations_by_pk"]
            if gen["status"] == "PENDING":
                seen_pending = True
                assert gen["generated_images"] == []
            else:
                assert gen["status"] == "COMPLETE" and len(gen["generated_images"]) == 4
                remaining.discard(gid)
    assert not remaining and seen_pending


def test_image_id_passed_as_generation_id_says_what_to_call(client: httpx.Client) -> None:
    gid = create(client, {"prompt": "x", **SMALL})
    image_id = wait_for_generation(client, gid)["generated_images"][0]["id"]
    r = client.get(f"/generations/{image_id}")
    assert r.status_code == 400
    message = r.json()["error"]
    assert "image id" in message and f"/generations/{gid}" in message


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"prompt": "x", "num_images": 5, "width": 1024, "height": 768}, "num_images", "at most 4"),
        ({"prompt": "x", "num_images": 9, "width": 512, "height": 512}, "num_images", "between 1 and 8"),
        ({"prompt": "x", "num_images": 0}, "num_images", "between 1 and 8"),
        ({"prompt": "x", "width": 1004}, "width", "multiple of 8"),
        ({"prompt": "x", "height": 2048}, "height", "1536"),
        ({"prompt": "x", "num_inference_steps": 100}, "num_inference_steps", "10 to 60"),
        ({"prompt": "x", "guidance_scale": 50}, "guidance_scale", "1 to 20"),
        ({"prompt": "x" * 1501}, "prompt", "1500"),
        ({"prompt": ""}, "prompt", "prompt"),
        ({}, "prompt", "prompt"),
        ({"prompt": "x", "scheduler": "FAST"}, "scheduler", "EULER_DISCRETE"),
        ({"prompt": "x", "presetStyle": "WEIRD"}, "presetStyle", "DYNAMIC"),
        ({"prompt": "x", "width": "wide"}, "width", "integer"),
        ({"prompt": "x", "num_images": True}, "num_images", "integer"),  # pydantic would read true as 1
        ({"prompt": "x", "guidance_scale": False}, "guidance_scale", "a number"),
        ({"prompt": "x", "modelId": "00000000-0000-4000-8000-000000000000"}, "modelId", TINY_MODEL_ID),
    ],
)
def test_bad_input_names_the_field_and_what_to_send(client: httpx.Client, body: dict, field: str, words: str) -> None:
    r = client.post("/generations", json=body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["path"] == f"$.{field}" and words in error["error"]
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"prompt"'])
def test_malformed_bodies_get_a_json_400(live_server: LiveServer, key: str, raw: bytes) -> None:
    r = httpx.post(
        live_server.api_url + "/generations",
        content=raw,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]


def test_empty_body_with_json_content_type(live_server: LiveServer, key: str) -> None:
    r = httpx.post(
        live_server.api_url + "/generations",
        content=b"",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["path"] == "$.prompt"


def test_image_urls_need_no_auth_and_die_with_their_generation(client: httpx.Client) -> None:
    gid = create(client, {"prompt": "x", **SMALL})
    url = wait_for_generation(client, gid)["generated_images"][0]["url"]
    assert httpx.get(url).status_code == 200
    tampered = url.replace("/cdn/", "/cdn/x")
    assert httpx.get(tampered).status_code == 404
    client.delete(f"/generations/{gid}")
    assert httpx.get(url).status_code == 404


def test_unknown_endpoint_and_method_are_json(live_server: LiveServer, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.get(live_server.api_url + "/nope", headers=headers)
    assert r.status_code == 404 and r.json()["code"] == "not-found"
    r = httpx.put(live_server.api_url + "/me", headers=headers)
    assert r.status_code == 405 and "error" in r.json()


def test_missing_and_wrong_keys_get_leonardo_401(live_server: LiveServer) -> None:
    for headers in ({}, {"Authorization": "Bearer 0f6c1b7e-2d7a-4c43-9d1e-6a0b3c2f9a11"}, {"Authorization": "Basic x"}):
        r = httpx.post(live_server.api_url + "/generations", json={"prompt": "x"}, headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body.pop("requestId") == r.headers["x-request-id"]  # ours, beside Leonardo's three keys
        assert body == {
            "error": "Authentication hook unauthorized this request",
            "path": "$",
            "code": "access-denied",
        }


def test_models_by_id_for_platform_and_well_known_ids(client: httpx.Client) -> None:
    model = client.get(f"/models/{TINY_MODEL_ID}").json()["custom_models_by_pk"]
    assert model["id"] == TINY_MODEL_ID and model["status"] == "COMPLETE" and model["sdVersion"] == "v1_5"
    assert client.get("/models/b24e16ff-06e3-43eb-8d33-4416c2d75876").status_code == 200
    r = client.get("/models/not-a-model")
    assert r.status_code == 404 and "/platformModels" in r.json()["error"]


def test_path_prefix_is_the_documented_one(live_server: LiveServer) -> None:
    assert API == "/api/rest/v1"


def test_deleting_a_user_kills_their_keys_and_image_urls(live_server: LiveServer) -> None:
    from sfumato.testing.live_server import cli_json

    client = live_server.client("leaver")
    gid = create(client, {"prompt": "x", **SMALL})
    url = wait_for_generation(client, gid)["generated_images"][0]["url"]
    assert httpx.get(url).status_code == 200
    cli_json(live_server.env, "users", "delete", "leaver")
    assert httpx.get(url).status_code == 404
    assert client.get("/me").status_code == 401
