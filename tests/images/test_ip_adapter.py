"""Image prompts through an operator-installed IP-Adapter (<model>/ip_adapter/), built tiny in code."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image

from tests.images.conftest import BROKEN_IP_MODEL_ID
from tests.images.support import SMALL, AddonServer, fetch, generate, picture, pixels, upload, wait


@pytest.fixture(scope="module")
def client(addon_server: AddonServer) -> httpx.Client:
    return addon_server.server.client("ip-user")


def test_installed_ip_adapter_conditions_the_image(addon_server: AddonServer, client: httpx.Client) -> None:
    server = addon_server.server
    sdk = LeonardoAiSDK(bearer_auth=server.user("ip-user")["api_key"], server_url=server.api_url)
    prompt_id = upload(client, Image.new("RGB", (64, 64), (235, 20, 20)))
    plain = generate(client, {"seed": 21})
    job = sdk.image.create_generation(
        request={
            "prompt": "a red circle",
            "seed": 21,
            "image_prompts": [prompt_id],
            "image_prompt_weight": 0.8,
            **SMALL,
        }
    )
    steered = wait(client, f"/generations/{job.object.sd_generation_job.generation_id}")
    assert steered["status"] == "COMPLETE", steered.get("failureReason")
    assert addon_server.generation_methods(steered["id"])["image_prompt"] == "ip-adapter"
    assert addon_server.generation_methods(plain["id"])["image_prompt"] is None
    assert steered["imagePromptMethod"] == "ip-adapter" and "imagePromptMethod" not in plain  # shown by the API
    a, b = (pixels(fetch(g["generated_images"][0]["url"])) for g in (plain, steered))
    assert np.abs(a - b).mean() > 2, "the image prompt changed nothing"
    # Unloaded after the call: the same request without an image prompt gives the first pixels again.
    again = generate(client, {"seed": 21})
    assert np.array_equal(pixels(fetch(again["generated_images"][0]["url"])), a)


def test_ip_adapter_with_an_init_image(addon_server: AddonServer, client: httpx.Client) -> None:
    """Image-to-image runs on the derived img2img pipeline; the adapter loads onto that one."""
    init_id, prompt_id = upload(client, picture()), upload(client, Image.new("RGB", (32, 32), (20, 20, 230)))
    gen = generate(client, {"init_image_id": init_id, "init_strength": 0.4, "imagePrompts": [prompt_id]})
    assert gen["status"] == "COMPLETE", gen.get("failureReason")
    assert addon_server.generation_methods(gen["id"])["image_prompt"] == "ip-adapter"


def _break_without_encoder(folder: Path) -> None:
    shutil.rmtree(folder / "image_encoder")


def _break_with_no_weights(folder: Path) -> None:
    for file in folder.glob("*.safetensors"):
        file.unlink()


def _break_with_garbage_weights(folder: Path) -> None:
    next(folder.glob("*.safetensors")).write_bytes(b"this is not a safetensors file")


def _break_with_wrong_keys(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    file = next(folder.glob("*.safetensors"))
    tensors = {k: v for k, v in load_file(str(file)).items() if not k.startswith("ip_adapter.3.")}
    save_file(tensors, str(file))  # one attention layer's weights missing


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (_break_without_encoder, "has no image_encoder/"),
        (_break_with_no_weights, "holds no IP-Adapter weights"),
        (_break_with_garbage_weights, "could not be loaded"),
        (_break_with_wrong_keys, "could not be loaded"),
    ],
)
def test_broken_ip_adapter_fails_with_a_reason(
    addon_server: AddonServer, client: httpx.Client, damage: object, words: str
) -> None:
    from sfumato.engine.tiny_addons import build_tiny_ip_adapter

    model = addon_server.models[BROKEN_IP_MODEL_ID]
    shutil.rmtree(model / "ip_adapter", ignore_errors=True)
    baseline = generate(client, {"modelId": BROKEN_IP_MODEL_ID, "seed": 4})  # no image prompt: no adapter needed
    damage(build_tiny_ip_adapter(model, seed=1))  # type: ignore[operator]
    prompt_id = upload(client, Image.new("RGB", (32, 32), (235, 20, 20)))
    failed = generate(client, {"modelId": BROKEN_IP_MODEL_ID, "seed": 4, "imagePrompts": [prompt_id]})
    assert failed["status"] == "FAILED"
    reason = failed["failureReason"]
    assert reason.startswith("AddonError:") and "ip_adapter" in reason and words in reason, reason
    # The failed load left nothing on the cached pipeline: a text-only request gives the baseline's pixels.
    after = generate(client, {"modelId": BROKEN_IP_MODEL_ID, "seed": 4})
    assert after["status"] == "COMPLETE"
    assert np.array_equal(
        pixels(fetch(after["generated_images"][0]["url"])), pixels(fetch(baseline["generated_images"][0]["url"]))
    )
