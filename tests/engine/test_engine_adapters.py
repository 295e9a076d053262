"""LoRAs per request on a cached pipeline: weight 0 is the base model's pixels, a request without LoRAs right
after one with them is the base model's pixels (no leak, also from another thread at the same time), two LoRAs
combine, switching back and forth stays exact, and a LoRA that does not fit fails with a reason."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from sfumato.engine.adapters import MAX_RESIDENT, AdapterError, LoraAdapter
from sfumato.engine.engine import Engine
from sfumato.engine.tiny import build_tiny_sd15, build_tiny_sdxl
from sfumato.engine.types import GenerateRequest
from sfumato.testing.loras import random_lora


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Path, Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    model = build_tiny_sd15(root / "sd15", seed=0, buckets=[[64, 64]])
    first = random_lora(model, root / "first", seed=1)
    second = random_lora(model, root / "second", seed=2)
    return Engine(memory_budget_bytes=2**30), model, first, second


def pixels(engine: Engine, model: Path, *adapters: LoraAdapter, seed: int = 3) -> np.ndarray:
    request = GenerateRequest(
        model_path=model, prompt="a red circle", width=64, height=64, num_inference_steps=4, seed=seed,
        adapters=tuple(adapters),
    )  # fmt: skip
    return np.asarray(engine.generate(request).images[0], dtype=np.int16)


def test_weights_zero_none_and_after_are_the_base_pixels(setup: tuple[Engine, Path, Path, Path]) -> None:
    engine, model, first, second = setup
    base = pixels(engine, model)
    one = pixels(engine, model, LoraAdapter(first, 1.0))
    assert np.abs(one - base).mean() > 1.0, "the LoRA changes the picture"
    assert np.array_equal(pixels(engine, model), base), "no LoRA leaks into the next request"
    assert np.array_equal(pixels(engine, model, LoraAdapter(first, 0.0)), base)
    assert np.array_equal(pixels(engine, model, LoraAdapter(first, 1.0)), one), "switching back is exact"
    half = pixels(engine, model, LoraAdapter(first, 0.5))
    assert 0 < np.abs(half - base).mean() < np.abs(one - base).mean()
    both = pixels(engine, model, LoraAdapter(first, 1.0), LoraAdapter(second, 1.0))
    only_second = pixels(engine, model, LoraAdapter(second, 1.0))
    assert not np.array_equal(both, one) and not np.array_equal(both, only_second)
    assert np.array_equal(pixels(engine, model), base)


def test_concurrent_requests_each_get_their_own_adapters(setup: tuple[Engine, Path, Path, Path]) -> None:
    engine, model, first, _ = setup
    expected = {True: pixels(engine, model, LoraAdapter(first, 1.0)), False: pixels(engine, model)}
    results: list[tuple[bool, np.ndarray]] = []

    def run(with_lora: bool) -> None:
        for _ in range(3):
            adapters = (LoraAdapter(first, 1.0),) if with_lora else ()
            results.append((with_lora, pixels(engine, model, *adapters)))

    threads = [threading.Thread(target=run, args=(flag,)) for flag in (True, False, True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12
    assert all(np.array_equal(image, expected[flag]) for flag, image in results)


def test_resident_adapters_stay_few(setup: tuple[Engine, Path, Path, Path], tmp_path: Path) -> None:
    engine, model, _, _ = setup
    base = pixels(engine, model)
    loras = [random_lora(model, tmp_path / f"l{i}", seed=10 + i) for i in range(MAX_RESIDENT + 3)]
    for lora in loras:
        pixels(engine, model, LoraAdapter(lora, 1.0))
    loaded = engine.cache.get(model)
    assert len(loaded.adapters.resident()) == MAX_RESIDENT
    assert np.array_equal(pixels(engine, model), base)


def test_a_lora_for_another_model_fails_with_a_reason(setup: tuple[Engine, Path, Path, Path], tmp_path: Path) -> None:
    engine, _, first, _ = setup
    xl = build_tiny_sdxl(tmp_path / "xl", seed=0, buckets=[[64, 64]])
    with pytest.raises(AdapterError, match="does not fit this model"):
        pixels(engine, xl, LoraAdapter(first, 1.0))
    assert pixels(engine, xl).shape == (64, 64, 3)
