"""Engine.generate_batch: several requests in one pipeline call give the pictures each gives alone."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine.engine import Engine, batchable
from sfumato.engine.types import GenerateRequest, GenerateResult
from tests.engine.test_engine_generate import _pixels, _request


class Stop(Exception):
    """What a cancelled job's progress raises."""


def _recorder(seen: list[int]) -> Callable[[int, int], None]:
    return lambda step, steps: seen.append(step)


def _close(alone: GenerateResult, batched: GenerateResult) -> None:
    assert len(alone.images) == len(batched.images)
    for index in range(len(alone.images)):
        # Batched CPU kernels may round the last float bit differently: a level or two on a few pixels.
        diff = np.abs(_pixels(alone, index) - _pixels(batched, index))
        assert diff.max() <= 2, diff.max()
        assert (diff > 0).mean() < 0.01


def test_a_batch_gives_each_request_its_own_pictures(engine: Engine, any_model: Path) -> None:
    requests = [
        _request(any_model, prompt="a red cat photo", seed=5),
        _request(any_model, prompt="a blue house at night", seed=99, num_images=2),
        _request(any_model, prompt="green fields", seed=5),
    ]
    steps: list[list[int]] = [[], [], []]
    progress = [_recorder(seen) for seen in steps]
    batched = engine.generate_batch(requests, progress)
    alone = [engine.generate(r) for r in requests]
    for one, many in zip(alone, batched, strict=True):
        assert isinstance(many, GenerateResult)
        _close(one, many)
    # Different prompts with one seed still differ: each request kept its own prompt.
    first, third = batched[0], batched[2]
    assert isinstance(first, GenerateResult) and isinstance(third, GenerateResult)
    assert np.abs(_pixels(first) - _pixels(third)).mean() > 3
    assert steps == [[1, 2, 3]] * 3


def test_negative_prompts_stay_with_their_request(engine: Engine, tiny_sd15: Path) -> None:
    requests = [
        _request(tiny_sd15, negative_prompt="a dog", seed=3),
        _request(tiny_sd15, negative_prompt="blurry, dark", seed=3),
    ]
    batched = engine.generate_batch(requests, [lambda s, n: None] * 2)
    for request, result in zip(requests, batched, strict=True):
        assert isinstance(result, GenerateResult)
        _close(engine.generate(request), result)


def test_a_request_whose_progress_raises_drops_out_and_the_others_finish(engine: Engine, tiny_sd15: Path) -> None:
    def cancelled_at_2(step: int, steps: int) -> None:
        if step == 2:
            raise Stop()

    requests = [_request(tiny_sd15, seed=1), _request(tiny_sd15, seed=2)]
    first, second = engine.generate_batch(requests, [lambda s, n: None, cancelled_at_2])
    assert isinstance(second, Stop)
    assert isinstance(first, GenerateResult)
    _close(engine.generate(requests[0]), first)


def test_when_every_request_stops_the_call_stops(engine: Engine, tiny_sd15: Path) -> None:
    calls: list[int] = []

    def stop(step: int, steps: int) -> None:
        calls.append(step)
        raise Stop()

    results = engine.generate_batch([_request(tiny_sd15, num_inference_steps=20)] * 2, [stop, stop])
    assert all(isinstance(r, Stop) for r in results)
    assert calls == [1, 1]  # aborted after the first step, not run to the end


def test_requests_that_cannot_share_a_call_are_refused(engine: Engine, tiny_sd15: Path) -> None:
    base = _request(tiny_sd15)
    for other in (
        dataclasses.replace(base, num_inference_steps=4),
        dataclasses.replace(base, width=48),
        dataclasses.replace(base, guidance_scale=3.0),
        dataclasses.replace(base, negative_prompt="dark"),
        dataclasses.replace(base, init_image=_request_image()),
    ):
        assert not batchable(base, other)
        with pytest.raises(ValueError, match="differ only in prompts and seeds"):
            engine.generate_batch([base, other], [lambda s, n: None] * 2)
    assert batchable(base, dataclasses.replace(base, prompt="other", seed=9, num_images=3))


def _request_image() -> Image.Image:
    return Image.new("RGB", (64, 64), "white")


def test_single_request_progress_still_aborts_at_once(engine: Engine, tiny_sd15: Path) -> None:
    # generate() goes through the same step callback: its first exception aborts the call.
    def stop(step: int, steps: int) -> None:
        raise Stop()

    with pytest.raises(Stop):
        engine.generate(_request(tiny_sd15, num_inference_steps=5), progress=stop)
    assert isinstance(
        engine.generate(GenerateRequest(tiny_sd15, "ok", width=64, height=64, num_inference_steps=2)), GenerateResult
    )
