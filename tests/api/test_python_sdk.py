"""The official Python SDK (leonardo-ai-sdk from PyPI), pointed at the real server with `server_url`."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations
from leonardo_ai_sdk.models.errors import SDKError
from PIL import Image

from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer


def sdk(server: LiveServer, user: str = "alice", key: str | None = None) -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=key or server.user(user)["api_key"], server_url=server.api_url)


def poll(client: LeonardoAiSDK, generation_id: str, timeout: float = 120) -> operations.GenerationsByPk:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = client.image.get_generation_by_id(id=generation_id)
        gen = res.object.generations_by_pk
        assert gen is not None, "the SDK could not parse generations_by_pk"
        if gen.status != "PENDING":
            return gen
        assert gen.generated_images == [], "a PENDING generation must not list images"
        time.sleep(0.2)
    raise AssertionError("generation did not finish")


def test_list_platform_models_shows_ids(live_server: LiveServer) -> None:
    models = sdk(live_server).models.list_platform_models().object.custom_models
    ids = {m.id for m in models}
    assert {TINY_MODEL_ID, TINY_XL_MODEL_ID} <= ids
    assert all(m.name and m.description is not None for m in models)


def test_prompt_only_generation_completes_with_sdk_defaults(live_server: LiveServer) -> None:
    client = sdk(live_server)
    # Only a prompt: the SDK adds modelId (Lightning XL), 1024x768, num_images 4, alchemy, presetStyle.
    res = client.image.create_generation(request={"prompt": "a red circle on a blue background"})
    generation_id = res.object.sd_generation_job.generation_id
    assert generation_id
    gen = poll(client, generation_id)
    assert gen.status == "COMPLETE"
    assert (gen.image_width, gen.image_height) == (1024, 768)
    assert len(gen.generated_images) == 4
    for image in gen.generated_images:
        assert image.id and image.url.endswith(".png")
        r = httpx.get(image.url)  # no auth header, like a CDN URL
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/png")
        assert Image.open(io.BytesIO(r.content)).size == (1024, 768)


def test_sdxl_model_through_the_sdk(live_server: LiveServer) -> None:
    client = sdk(live_server)
    res = client.image.create_generation(
        request={
            "prompt": "tiny xl",
            "model_id": TINY_XL_MODEL_ID,
            "width": 512,
            "height": 512,
            "num_images": 1,
        }
    )
    gen = poll(client, res.object.sd_generation_job.generation_id)
    assert gen.status == "COMPLETE" and gen.model_id == TINY_XL_MODEL_ID
    assert gen.sd_version == "SDXL_1_0"


def test_me_list_by_user_paging_and_delete(live_server: LiveServer) -> None:
    client = sdk(live_server, "paula")
    me = client.user.get_user_self().object.user_details[0]
    assert me.user.username == "paula" and me.user.id == live_server.user("paula")["user_id"]
    assert me.api_concurrency_slots == 10
    ids = []
    for n in range(3):
        res = client.image.create_generation(request={"prompt": f"p{n}", "num_images": 1, "width": 256, "height": 256})
        ids.append(res.object.sd_generation_job.generation_id)
    for generation_id in ids:
        poll(client, generation_id)
    page1 = client.image.get_generations_by_user_id(user_id=me.user.id, limit=2, offset=0).object.generations
    page2 = client.image.get_generations_by_user_id(user_id=me.user.id, limit=2, offset=2).object.generations
    assert [g.id for g in page1] == [ids[2], ids[1]]  # newest first
    assert [g.id for g in page2] == [ids[0]]
    deleted = client.image.delete_generation_by_id(id=ids[0]).object.delete_generations_by_pk
    assert deleted.id == ids[0]
    with pytest.raises(SDKError) as err:
        client.image.get_generation_by_id(id=ids[0])
    assert err.value.status_code == 404


def test_bad_key_is_refused_with_leonardo_body(live_server: LiveServer) -> None:
    with pytest.raises(SDKError) as err:
        sdk(live_server, key="not-a-key").user.get_user_self()
    assert err.value.status_code == 401
    assert '"code":"access-denied"' in err.value.body.replace(" ", "")


def test_another_users_generation_is_not_found(live_server: LiveServer) -> None:
    owner = sdk(live_server, "owen")
    res = owner.image.create_generation(request={"prompt": "mine", "num_images": 1, "width": 64, "height": 64})
    generation_id = res.object.sd_generation_job.generation_id
    other = sdk(live_server, "mallory")
    with pytest.raises(SDKError) as err:
        other.image.get_generation_by_id(id=generation_id)
    assert err.value.status_code == 404
    with pytest.raises(SDKError) as err:
        other.image.delete_generation_by_id(id=generation_id)
    assert err.value.status_code == 404
    owner_id = live_server.user("owen")["user_id"]
    with pytest.raises(SDKError) as err:
        other.image.get_generations_by_user_id(user_id=owner_id)
    assert err.value.status_code == 404
    assert poll(owner, generation_id).status == "COMPLETE"
