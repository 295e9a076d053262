"""Engine.generate on tiny SD 1.5 and SDXL pipelines loaded from disk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from sfumato.engine.engine import Engine, choose_bucket
from sfumato.engine.types import GenerateRequest, GenerateResult


def _request(model: Path, **overrides: object) -> GenerateRequest:
    base = GenerateRequest(
        model_path=model, prompt="a red cat photo", width=64, height=64, num_inference_steps=3, seed=7
    )
    return dataclasses.replace(base, **overrides)


def _pixels(result: GenerateResult, index: int = 0) -> np.ndarray:
    return np.asarray(result.images[index]).astype(np.int16)


def test_generates_rgb_images_of_the_requested_size(engine: Engine, any_model: Path) -> None:
    result = engine.generate(_request(any_model, width=64, height=48, num_images=2))
    assert len(result.images) == 2
    for image in result.images:
        assert image.mode == "RGB"
        assert image.size == (64, 48)
    assert (result.rendered_width, result.rendered_height) == (64, 48)


def test_same_seed_gives_identical_pixels_and_another_seed_does_not(engine: Engine, any_model: Path) -> None:
    first = _pixels(engine.generate(_request(any_model, seed=11)))
    again = _pixels(engine.generate(_request(any_model, seed=11)))
    other = _pixels(engine.generate(_request(any_model, seed=12)))
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 5


def test_image_zero_of_a_batch_equals_a_single_image_call(engine: Engine, any_model: Path) -> None:
    single = _pixels(engine.generate(_request(any_model, seed=21)))
    batch = engine.generate(_request(any_model, seed=21, num_images=4))
    # Batched CPU kernels round differently in the last float bit, which can flip one 8-bit level on a
    # handful of pixels; anything more would mean the seeding is wrong.
    diff = np.abs(single - _pixels(batch, 0))
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.005
    # ...and image i is seeded with seed + i: image 1 of the batch is a single call with seed + 1.
    next_seed = _pixels(engine.generate(_request(any_model, seed=22)))
    assert np.abs(next_seed - _pixels(batch, 1)).max() <= 1
    assert np.abs(_pixels(batch, 0) - _pixels(batch, 1)).mean() > 5


def test_negative_prompt_and_guidance_scale_change_the_image(engine: Engine, tiny_sd15: Path) -> None:
    plain = _pixels(engine.generate(_request(tiny_sd15)))
    negative = _pixels(engine.generate(_request(tiny_sd15, negative_prompt="a dog")))
    guided = _pixels(engine.generate(_request(tiny_sd15, guidance_scale=2.0)))
    assert not np.array_equal(plain, negative)
    assert not np.array_equal(plain, guided)


def test_progress_is_reported_with_increasing_steps(engine: Engine, any_model: Path) -> None:
    calls: list[tuple[int, int]] = []
    engine.generate(_request(any_model, num_inference_steps=4), progress=lambda s, t: calls.append((s, t)))
    assert [step for step, _ in calls] == [1, 2, 3, 4]
    assert all(total == 4 for _, total in calls)


def test_an_exception_in_progress_aborts_and_the_engine_stays_usable(engine: Engine, tiny_sd15: Path) -> None:
    def cancel(step: int, total: int) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        engine.generate(_request(tiny_sd15, tiling=True, scheduler="DDIM"), progress=cancel)
    pipe = engine.cache.get(tiny_sd15).pipe
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"  # the model's own, put back
    assert all(m.padding_mode == "zeros" for m in pipe.unet.modules() if isinstance(m, torch.nn.Conv2d))
    assert engine.generate(_request(tiny_sd15)).images


def _seam_stats(engine: Engine, model: Path, tiling: bool) -> tuple[float, float]:
    """(mean |first column - last column|, correlation of the two), averaged over a few seeds."""
    diffs, correlations = [], []
    for seed in range(4):
        image = _pixels(engine.generate(_request(model, seed=seed, tiling=tiling))).astype(np.float64)
        left, right = image[:, 0], image[:, -1]
        diffs.append(np.abs(left - right).mean())
        a, b = left - left.mean(0), right - right.mean(0)
        correlations.append((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))
    return float(np.mean(diffs)), float(np.mean(correlations))


def test_tiling_makes_the_left_and_right_edges_continuous(engine: Engine, any_model: Path) -> None:
    untiled_diff, untiled_corr = _seam_stats(engine, any_model, tiling=False)
    tiled_diff, tiled_corr = _seam_stats(engine, any_model, tiling=True)
    # Tiled, the last column is the first one's neighbour: closer, and varying with it like any two
    # adjacent columns do; untiled, the two edges are unrelated.
    assert tiled_diff < 0.92 * untiled_diff
    assert tiled_corr > 0.6
    assert untiled_corr < 0.3
    pipe = engine.cache.get(any_model).pipe
    convs = [m for c in (pipe.unet, pipe.vae) for m in c.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(m.padding_mode == "zeros" for m in convs)  # restored after the call


def test_buckets_pick_the_closest_aspect_ratio_and_resize_to_the_exact_size(
    engine: Engine, tiny_sd15_bucketed: Path
) -> None:
    wide = engine.generate(_request(tiny_sd15_bucketed, width=128, height=96))
    assert (wide.rendered_width, wide.rendered_height) == (64, 48)
    assert wide.images[0].size == (128, 96)
    tall = engine.generate(_request(tiny_sd15_bucketed, width=72, height=104))
    assert (tall.rendered_width, tall.rendered_height) == (48, 64)
    assert tall.images[0].size == (72, 104)
    square = engine.generate(_request(tiny_sd15_bucketed, width=40, height=40))
    assert (square.rendered_width, square.rendered_height) == (64, 64)  # tie with 32x32: larger area
    assert square.images[0].size == (40, 40)


def test_choose_bucket_compares_aspect_ratios_and_prefers_larger_area_on_ties() -> None:
    buckets = [(1024, 1024), (512, 512), (1152, 896), (896, 1152), (1344, 768)]
    assert choose_bucket(buckets, 1024, 768) == (1152, 896)
    assert choose_bucket(buckets, 768, 1024) == (896, 1152)
    assert choose_bucket(buckets, 600, 600) == (1024, 1024)
    assert choose_bucket(buckets, 1920, 1080) == (1344, 768)


def test_a_model_without_buckets_renders_at_the_requested_size(engine: Engine, tiny_sd15: Path) -> None:
    result = engine.generate(_request(tiny_sd15, width=96, height=64))
    assert (result.rendered_width, result.rendered_height) == (96, 64)
    odd = engine.generate(_request(tiny_sd15, width=60, height=44))  # not multiples of 8: resized
    assert odd.images[0].size == (60, 44)


def test_preload_and_loaded_models(tiny_sd15: Path, tiny_sdxl: Path) -> None:
    engine = Engine(memory_budget_bytes=1 << 30, num_threads=torch.get_num_threads())
    engine.preload(tiny_sd15)
    engine.preload(tiny_sdxl)
    assert engine.loaded_models() == [tiny_sd15.resolve(), tiny_sdxl.resolve()]
    engine.generate(_request(tiny_sd15, num_inference_steps=1))
    assert engine.loaded_models() == [tiny_sdxl.resolve(), tiny_sd15.resolve()]


def test_invalid_requests_are_refused(engine: Engine, tiny_sd15: Path) -> None:
    with pytest.raises(ValueError, match="num_images"):
        engine.generate(_request(tiny_sd15, num_images=0))
    with pytest.raises(ValueError, match="scheduler"):
        engine.generate(_request(tiny_sd15, scheduler="NOT_A_SCHEDULER"))


def test_a_progress_callback_that_takes_a_preview_gets_the_steps_picture(engine: Engine, any_model: Path) -> None:
    """The preview maps the latents to RGB with a linear fit of the model's VAE: at the last step it is the
    picture's colours at the render size, without a decoder pass."""
    previews: list = []
    result = engine.generate(_request(any_model, num_inference_steps=4), progress=lambda s, t, p: previews.append(p()))
    assert len(previews) == 4 and all(p is not None and p.mode == "RGB" for p in previews)
    final = np.asarray(result.images[0].convert("RGB").resize(previews[-1].size), dtype=np.float32)
    colours = np.abs(final.mean(axis=(0, 1)) - np.asarray(previews[-1], dtype=np.float32).mean(axis=(0, 1)))
    assert colours.max() < 60, colours  # the same overall colour, roughly
