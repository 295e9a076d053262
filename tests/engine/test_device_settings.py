"""SFUMATO_DEVICE / SFUMATO_DTYPE / SFUMATO_COMPILE: parsed and refused by name, the dtype each model gets, and
the GPU path's options (SDPA, channels-last, torch.compile warmed at load) applied on the CPU through
RuntimeOptions, as the settings apply them on CUDA. The inductor backend itself is not run here: on this
2-core machine it compiles the tiny UNet in ~140 s per graph, so the compile tests use torch's aot_eager
backend (dynamo's capture and AOTAutograd, the same graphs and guards; no C++ build)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoPipelineForText2Image
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from PIL import Image
from pydantic import ValidationError
from torch._dynamo.testing import CompileCounterWithBackend

from sfumato.bootstrap import build_engine
from sfumato.engine.device import (
    COMPILE_ON,
    DeviceUnavailableError,
    RuntimeOptions,
    parse_compile,
    resolve_device,
    resolve_dtype,
    use_sdpa,
    wants_bfloat16,
)
from sfumato.engine.engine import Engine
from sfumato.engine.pipelines import PipelineCache
from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.engine.types import GenerateRequest
from sfumato.engine.video import MotionRequest
from sfumato.settings import Settings
from sfumato.testing.live_server import free_port, server_env

TEST_THREADS = 1  # as the rest of tests/engine: these models are too small to gain from more
# A CUDA device this machine does not have, whatever it has: "cuda" on a CPU-only machine, else one past the last.
MISSING_CUDA = f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


def max_level_difference(a: list[Image.Image], b: list[Image.Image]) -> int:
    return max(int(np.abs(np.asarray(x, np.int16) - np.asarray(y, np.int16)).max()) for x, y in zip(a, b, strict=True))


# --- settings ---


def test_the_defaults_are_the_cpu_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SFUMATO_DEVICE", "SFUMATO_DTYPE", "SFUMATO_COMPILE"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert (settings.device, settings.dtype, settings.compile) == ("cpu", "auto", "off")


def test_settings_take_each_documented_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFUMATO_DEVICE", " CUDA:1 ")
    monkeypatch.setenv("SFUMATO_DTYPE", "BFloat16")
    monkeypatch.setenv("SFUMATO_COMPILE", "reduce-overhead")
    settings = Settings()
    assert (settings.device, settings.dtype, settings.compile) == ("cuda:1", "bfloat16", "reduce-overhead")
    monkeypatch.setenv("SFUMATO_DEVICE", "auto")
    monkeypatch.setenv("SFUMATO_COMPILE", "1")
    assert (Settings().device, parse_compile(Settings().compile)) == ("auto", COMPILE_ON)


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SFUMATO_DEVICE", "gpu"), ("SFUMATO_DEVICE", "cuda:x"), ("SFUMATO_DTYPE", "fp8"), ("SFUMATO_COMPILE", "fast")],
)
def test_a_value_outside_the_list_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable):
        Settings()


def test_compile_on_and_off_spellings() -> None:
    assert [parse_compile(v) for v in ("0", "off", "", "false")] == ["off"] * 4
    assert [parse_compile(v) for v in ("1", "on", "true", True)] == [COMPILE_ON] * 4
    assert parse_compile("max-autotune") == "max-autotune"
    with pytest.raises(ValueError, match="SFUMATO_COMPILE"):
        parse_compile("fast")


# --- the device ---


def test_a_missing_cuda_device_is_refused_naming_sfumato_device() -> None:
    with pytest.raises(DeviceUnavailableError, match=f"SFUMATO_DEVICE={MISSING_CUDA}"):
        resolve_device(MISSING_CUDA)
    with pytest.raises(DeviceUnavailableError, match="SFUMATO_DEVICE"):
        build_engine(Settings(device=MISSING_CUDA))  # what `sfumato worker --device` builds


def test_auto_is_the_gpu_when_there_is_one_else_the_cpu() -> None:
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("CPU") == "cpu"


def test_the_server_does_not_start_on_a_device_that_is_not_there(tmp_path: Path) -> None:
    env = server_env(tmp_path / "data", tmp_path) | {"SFUMATO_DEVICE": MISSING_CUDA}
    command = [sys.executable, "-m", "sfumato.cli", "serve", "--port", str(free_port())]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert f"SFUMATO_DEVICE={MISSING_CUDA}" in done.stdout + done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr


# --- the dtype ---


def test_auto_dtype_is_float32_on_the_cpu_and_float16_on_cuda(tiny_sd15: Path) -> None:
    assert resolve_dtype("auto", "cpu", tiny_sd15) is torch.float32
    assert resolve_dtype("auto", "cuda", tiny_sd15) is torch.float16
    assert resolve_dtype("auto", "cuda:1", None) is torch.float16
    assert resolve_dtype("bfloat16", "cpu", tiny_sd15) is torch.bfloat16  # an explicit choice wins anywhere


def test_a_model_calls_for_bfloat16_by_its_file_its_family_or_its_weights(tmp_path: Path, tiny_sd15: Path) -> None:
    assert not wants_bfloat16(tiny_sd15)
    declared = shutil.copytree(tiny_sd15, tmp_path / "declared")
    (declared / "sfumato_model.json").write_text(json.dumps({"dtype": "bfloat16"}))
    assert wants_bfloat16(declared)
    family = tmp_path / "flux"
    family.mkdir()
    (family / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    assert wants_bfloat16(family)
    stored = shutil.copytree(tiny_sd15, tmp_path / "stored-bf16")
    pipe = AutoPipelineForText2Image.from_pretrained(tiny_sd15, local_files_only=True)
    pipe.unet.to(torch.bfloat16).save_pretrained(stored / "unet")
    assert wants_bfloat16(stored)


def test_the_cache_loads_each_model_in_the_policys_dtype(tiny_sd15: Path) -> None:
    auto = PipelineCache(1 << 30, runtime=RuntimeOptions("cpu", "auto"))
    assert auto.get(tiny_sd15).pipe.unet.dtype is torch.float32
    bf16 = PipelineCache(1 << 30, runtime=RuntimeOptions("cpu", "bfloat16"))
    loaded = bf16.get(tiny_sd15)
    assert loaded.pipe.unet.dtype is torch.bfloat16 and bf16.loaded_keys()[0].dtype is torch.bfloat16


# --- SDPA and channels-last ---


def test_sdpa_replaces_plain_attention_and_is_what_runs(monkeypatch: pytest.MonkeyPatch, tiny_sd15: Path) -> None:
    pipe = AutoPipelineForText2Image.from_pretrained(tiny_sd15, local_files_only=True)
    for model in (pipe.unet, pipe.vae):
        model.set_attn_processor(AttnProcessor())  # the pre-SDPA kind, as an older default or a reset leaves it
    counts = use_sdpa(pipe)
    assert set(counts) == {"AttnProcessor2_0"} and counts["AttnProcessor2_0"] > 0
    calls: list[int] = []
    real = torch.nn.functional.scaled_dot_product_attention

    def counting(*args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", counting)
    pipe("a cat", num_inference_steps=1, width=64, height=64, output_type="pil")
    assert calls, "the attention did not go through scaled_dot_product_attention"


def test_sdpa_and_channels_last_applied_at_load_give_the_same_picture(any_model: Path) -> None:
    options = RuntimeOptions("cpu", "auto", sdpa=True, channels_last=True)
    fast = Engine(1 << 30, num_threads=TEST_THREADS, runtime=options)
    loaded = fast.cache.get(any_model)
    for name in ("unet", "vae"):
        model = getattr(loaded.pipe, name)
        convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.shape[-1] > 1]
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs), name
        assert {type(p) for p in model.attn_processors.values()} <= {AttnProcessor2_0}
    request = GenerateRequest(any_model, "a red cat", width=64, height=64, num_inference_steps=3, seed=11)
    plain = Engine(1 << 30, num_threads=TEST_THREADS)
    assert max_level_difference(fast.generate(request).images, plain.generate(request).images) <= 2


# --- torch.compile, warmed at load ---


def test_compile_is_warmed_at_load_and_the_first_request_compiles_nothing(tiny_sd15: Path) -> None:
    counter = CompileCounterWithBackend("aot_eager")
    options = RuntimeOptions("cpu", "auto", compile_mode="default", compile_backend=counter)
    compiled = Engine(1 << 30, num_threads=TEST_THREADS, runtime=options)
    compiled.preload(tiny_sd15)
    assert options.warmups == [str(tiny_sd15)]
    assert counter.frame_count >= 2  # the static graph, then the one with batch and sizes dynamic
    at_load = counter.frame_count
    # A size and a batch the warm-up never used: served by the dynamic graph, no compile in the request.
    request = GenerateRequest(tiny_sd15, "a red cat", width=96, height=80, num_inference_steps=3, seed=5, num_images=3)
    images = compiled.generate(request).images
    assert counter.frame_count == at_load
    eager = Engine(1 << 30, num_threads=TEST_THREADS).generate(request).images
    assert max_level_difference(images, eager) <= 2


def test_motion_pipelines_load_and_run_with_compile_on(tmp_path: Path) -> None:
    folder = build_tiny_svd(tmp_path / "svd", steps=2)
    options = RuntimeOptions("cpu", "auto", sdpa=True, channels_last=True, compile_mode="default")
    engine = Engine(1 << 30, num_threads=TEST_THREADS, runtime=options)
    result = engine.motion(MotionRequest(folder, Image.new("RGB", (32, 32), "blue")))
    assert result.frames and options.warmups == []  # compile skipped (3D convolutions; no image to warm with)
    unet = engine.cache.get(folder).pipe.unet
    assert getattr(unet, "_compiled_call_impl", None) is None


@pytest.mark.skipif(os.environ.get("SFUMATO_TEST_INDUCTOR") != "1", reason="set SFUMATO_TEST_INDUCTOR=1: minutes")
def test_inductor_compile_gives_the_same_picture(tiny_sd15: Path) -> None:
    """The real backend, opt-in: ~140 s per graph on a 2-core CPU (gcc), two graphs at load."""
    options = RuntimeOptions("cpu", "auto", sdpa=True, channels_last=True, compile_mode=COMPILE_ON)
    compiled = Engine(1 << 30, num_threads=TEST_THREADS, runtime=options)
    request = GenerateRequest(tiny_sd15, "a red cat", width=64, height=64, num_inference_steps=3, seed=5)
    images = compiled.generate(request).images
    assert options.warmups == [str(tiny_sd15)]
    eager = Engine(1 << 30, num_threads=TEST_THREADS).generate(request).images
    assert max_level_difference(images, eager) <= 2
