"""An LCM-LoRA installed for an ordinary model (`<model>/lcm_lora/`): the realtime canvas runs with the LoRA
active and LCMScheduler, exactly as plain diffusers does by hand (load the LoRA, LCMScheduler, same steps and
seed), and the next normal generation on the same model is the one it made before the LoRA was ever loaded (no
adapter and no scheduler left behind). Engine-level on a tiny SD 1.5 with a random LoRA built in code, then
through a real server and the official Python SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from leonardo_ai_sdk import LeonardoAiSDK
from PIL import Image, ImageDraw

from sfumato.engine.engine import Engine
from sfumato.engine.lcm import lcm_lora_file
from sfumato.engine.realtime import METHOD_LCM_LORA, RealtimeRenderer, RealtimeRequest, few_step_plan
from sfumato.engine.tiny import build_tiny_sd15
from sfumato.engine.types import GenerateRequest
from sfumato.services.realtime_inputs import encode_data_url
from sfumato.services.styles import apply_style
from sfumato.testing.live_server import LiveServer, free_port, server_env
from sfumato.testing.loras import random_lora
from tests.images.support import fetch, pixels
from tests.realtime.support import data_url, read_data_url

MODEL_ID = "0a1b2c3d-0000-4000-8000-00000001c0a1"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny_sd15(tmp_path_factory.mktemp("lcm-lora") / "tiny", seed=0, buckets=[[64, 64]])
    random_lora(folder, folder / "lcm_lora", seed=1, scale=0.5)
    return folder


def _canvas(size: int = 96) -> Image.Image:
    img = Image.new("RGB", (size, size), (30, 60, 160))
    ImageDraw.Draw(img).ellipse([size // 4, size // 4, size * 3 // 4, size * 3 // 4], fill=(230, 40, 40))
    return img


def _by_hand(
    model: Path, picture: Image.Image, lora: bool, size: int, steps: int, strength: float, prompt: str = "a red cat"
) -> Image.Image:
    """What an operator would write with diffusers: img2img, the LoRA loaded, LCMScheduler, at the model's 64 px."""
    from diffusers import LCMScheduler, StableDiffusionImg2ImgPipeline

    torch.set_num_threads(1)  # as the engines here and the server run: a random model amplifies float noise
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
        str(model), safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    if lora:
        pipe.load_lora_weights(str(model / "lcm_lora"))
    pipe.scheduler = LCMScheduler.from_config(pipe.scheduler.config)
    out = pipe(
        prompt, image=picture.resize((64, 64), Image.Resampling.LANCZOS), strength=strength,
        num_inference_steps=int(np.ceil(steps / strength)), guidance_scale=1.5,
        generator=torch.Generator("cpu").manual_seed(7), output_type="pil",
    ).images[0]  # fmt: skip
    return out.resize((size, size), Image.Resampling.LANCZOS)


def _diff(a: Image.Image | np.ndarray, b: Image.Image | np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))


def test_the_plan_finds_the_lora(model: Path, tmp_path: Path) -> None:
    plan = few_step_plan(model)
    assert plan.method == METHOD_LCM_LORA and plan.scheduler == "LCM"
    assert [a.path for a in plan.adapters] == [model / "lcm_lora" / "pytorch_lora_weights.safetensors"]
    beside = build_tiny_sd15(tmp_path / "other", seed=0)
    assert lcm_lora_file(beside) is None and few_step_plan(beside).adapters == ()
    random_lora(beside, tmp_path / "other-lcm-lora", seed=2)  # beside the model folder works too
    assert lcm_lora_file(beside) == tmp_path / "other-lcm-lora" / "pytorch_lora_weights.safetensors"
    assert RealtimeRenderer(Engine(1 << 20, num_threads=1)).is_lcm(beside)


def test_realtime_equals_diffusers_by_hand_and_leaves_nothing_behind(model: Path) -> None:
    engine = Engine(1 << 28, num_threads=1)
    plain = GenerateRequest(model_path=model, prompt="a red cat", width=64, height=64, num_inference_steps=6, seed=3)
    img2img = GenerateRequest(
        model_path=model, prompt="a red cat", width=64, height=64, num_inference_steps=6, seed=3,
        init_image=_canvas(64), strength=0.6,
    )  # fmt: skip
    before, before_i2i = engine.generate(plain).images[0], engine.generate(img2img).images[0]
    own_scheduler = type(engine.cache.get(model).pipe.scheduler)

    request = RealtimeRequest(model, "a red cat", _canvas(), 96, 96, steps=4, strength=0.5, guidance=1.5, seed=7)
    out, method = RealtimeRenderer(engine).render(request)
    assert method == METHOD_LCM_LORA and out.size == (96, 96)
    hand, hand_no_lora = (_by_hand(model, _canvas(), lora, 96, 4, 0.5) for lora in (True, False))
    assert _diff(out, hand).max() <= 2, "the realtime call is diffusers' LCM-LoRA recipe"
    assert _diff(out, hand_no_lora).mean() > 3, "the LoRA really acts"

    after, after_i2i = engine.generate(plain).images[0], engine.generate(img2img).images[0]
    assert np.array_equal(np.asarray(before), np.asarray(after)), "no adapter or scheduler leaks into the next job"
    assert np.array_equal(np.asarray(before_i2i), np.asarray(after_i2i))
    assert type(engine.cache.get(model).pipe.scheduler) is own_scheduler
    # and the LoRA comes back for the next realtime call (it stays resident, switched on per call)
    again, _ = RealtimeRenderer(engine).render(request)
    assert np.array_equal(np.asarray(again), np.asarray(out))


def test_lcm_lora_upscale_refines_with_the_lora(model: Path) -> None:
    engine = Engine(1 << 28, num_threads=1)
    renderer = RealtimeRenderer(engine)
    big, how = renderer.upscale(model, _canvas(64), "a red cat", 5, steps=4, strength=0.5)
    assert big.size == (128, 128) and how.endswith("+diffusion-detail")
    plain_big, _ = engine.upscale(model, _canvas(64), "a red cat", 5, steps=8, strength=0.5)
    assert _diff(big, plain_big).mean() > 0.5, "the refinement is not the plain model's"


@pytest.fixture(scope="module")
def server(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import json

    catalog = tmp_path_factory.mktemp("lcm-lora-catalog")
    entry = {
        "id": MODEL_ID,
        "name": "Tiny LCM-LoRA",
        "description": "tiny",
        "path": str(model),
        "recommended_steps": 10,
    }
    (catalog / "lcm.json").write_text(json.dumps([entry]))
    data = tmp_path_factory.mktemp("lcm-lora-data")
    env = server_env(data, catalog, default_model_id=MODEL_ID)
    env.update(SFUMATO_REALTIME_MODEL_ID=MODEL_ID, SFUMATO_TORCH_THREADS="1")
    live = LiveServer(env, free_port(), data / "server.log")
    live.start()
    yield live
    live.stop()


def test_through_the_sdk_the_canvas_runs_the_lora_and_generations_do_not(model: Path, server: LiveServer) -> None:
    from tests.images.support import wait

    sdk = LeonardoAiSDK(bearer_auth=server.user("lcm")["api_key"], server_url=server.api_url)
    client = server.client("lcm")

    def generation() -> np.ndarray:
        request = {
            "prompt": "a red cat",
            "model_id": MODEL_ID,
            "width": 64,
            "height": 64,
            "num_images": 1,
            "seed": 3,
            "num_inference_steps": 10,
        }
        generation_id = sdk.image.create_generation(request=request).object.sd_generation_job.generation_id
        gen = wait(client, f"/generations/{generation_id}")
        assert gen["status"] == "COMPLETE", gen
        return pixels(fetch(gen["generated_images"][0]["url"]))

    before = generation()
    job = sdk.realtime_canvas.create_lcm_generation(
        request={"image_data_url": data_url(_canvas(), "PNG"), "prompt": "a red cat", "seed": 7, "steps": 4,
                 "strength": 0.5, "guidance": 1.5, "width": 96, "height": 96},
    ).object.lcm_generation_job  # fmt: skip
    out = read_data_url(job.image_data_url[0])
    styled = apply_style("a red cat", "DYNAMIC", True)  # the canvas's default style, as the server words it
    hand, hand_no_lora = (_by_hand(model, _canvas(), lora, 96, 4, 0.5, styled) for lora in (True, False))
    # the answer is JPEG: the recipe's pixels through the same encoder, and far from the model without the LoRA
    expected, unexpected = (read_data_url(encode_data_url(i)) for i in (hand, hand_no_lora))
    assert _diff(out, expected).mean() < 1 and _diff(out, unexpected).mean() > 10
    # /lcm-upscale keeps the canvas picture (PNG) as a generation: the same LoRA render, then twice its size
    up = sdk.realtime_canvas.perform_alchemy_upscale_lcm(
        request={"image_data_url": data_url(_canvas(), "PNG"), "prompt": "a red cat", "seed": 7, "steps": 4,
                 "strength": 0.5, "guidance": 1.5, "width": 96, "height": 96},
    ).object.lcm_generation_job  # fmt: skip
    assert read_data_url(up.image_data_url[0]).size == (192, 192)
    kept = sdk.image.get_generation_by_id(id=up.generation_id[0]).object.generations_by_pk
    assert _diff(pixels(fetch(kept.generated_images[0].url)), hand).max() <= 2
    mask = Image.new("L", (96, 96), 0)
    mask.paste(255, (48, 0, 96, 96))
    painted = sdk.realtime_canvas.perform_inpainting_lcm(
        request={"image_data_url": data_url(_canvas(), "PNG"), "mask_data_url": data_url(mask.convert("RGB"), "PNG"),
                 "prompt": "a red cat", "seed": 7, "steps": 4, "strength": 0.5, "width": 96, "height": 96},
    ).object.lcm_generation_job  # fmt: skip
    painted_right = _diff(read_data_url(painted.image_data_url[0]), expected)[:, 52:]
    assert painted_right.mean() < 3, "the repainted half is the LoRA's render"
    assert np.array_equal(generation(), before), "a generation after the canvas is the one made before it"
