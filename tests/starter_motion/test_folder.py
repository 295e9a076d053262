"""The exported folder: stock diffusers loads it as a StableVideoDiffusionPipeline and renders clips."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from diffusers import DiffusionPipeline, EulerDiscreteScheduler, StableVideoDiffusionPipeline
from PIL import Image

from sfumato.starter.motion.model import MotionConfig, MotionPipeline, save_motion
from sfumato.starter.motion.train import STARTER_DIR, MotionTrainConfig, build_components


def test_stock_pipeline_loads_and_renders_native_sizes(tiny_motion: Path) -> None:
    pipe = DiffusionPipeline.from_pretrained(str(tiny_motion), dtype=torch.float32, local_files_only=True)
    assert type(pipe) is StableVideoDiffusionPipeline
    pipe.set_progress_bar_config(disable=True)
    n = pipe.unet.config.num_frames
    for w, h in ((32, 32), (40, 32), (32, 40)):
        frames = pipe(
            Image.new("RGB", (w, h), (200, 30, 30)),
            height=h,
            width=w,
            num_inference_steps=2,
            max_guidance_scale=2.0,  # with CFG: the zero negative of the stock call works too
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).frames
        assert frames.shape == (1, n, h, w, 3)


def test_prompt_pipeline_appends_direction_tokens(tiny_motion: Path) -> None:
    pipe = MotionPipeline.load(tiny_motion)
    image = Image.new("RGB", (32, 32), (30, 30, 200))
    with torch.no_grad():
        emb = pipe._encode_image(image, "cpu", 1, False)
        assert emb.shape[1] == 1  # no prompt: the stock single image token
        pipe._direction = "up right"
        emb = pipe._encode_image(image, "cpu", 2, True)
    assert emb.shape[0] == 4 and emb.shape[1] == 1 + 6 and float(emb[:2].abs().sum()) == 0.0
    pipe._direction = None

    def run(**kw: str) -> torch.Tensor:
        out = pipe(image, height=32, width=32, num_inference_steps=2, output_type="pt", **kw)
        return out.frames

    gen = {"generator": torch.Generator().manual_seed(0)}
    plain = pipe(image, height=32, width=32, num_inference_steps=2, output_type="pt", **gen).frames
    gen = {"generator": torch.Generator().manual_seed(0)}
    left = pipe(image, height=32, width=32, num_inference_steps=2, output_type="pt", prompt="moving left", **gen).frames
    assert plain.shape == left.shape and not torch.equal(plain, left)
    assert run(prompt="a cat").shape == plain.shape  # no direction in the prompt: the stock path
    with pytest.raises(ValueError, match="use one of"):
        run(direction="sideways")


def test_model_info(tiny_motion: Path) -> None:
    info = json.loads((tiny_motion / "sfumato_motion.json").read_text())
    assert info["buckets"] == [[32, 32], [40, 32], [32, 40]] and info["fps"] == 8
    assert info["motion_strength"]["motion_bucket_id"]["5"] == 127
    assert info["motion_strength"]["motion_bucket_id"]["10"] == 254
    assert info["noise_aug_strength"] == 0.02 and info["recommended_steps"] > 0
    index = json.loads((tiny_motion / "model_index.json").read_text())
    assert index["_class_name"] == "StableVideoDiffusionPipeline"
    assert "text_encoder" not in index  # beside the stock components, unseen by the stock class
    assert (tiny_motion / "snapshots").exists() is False
    assert (tiny_motion.parent / "snapshots" / "step-2" / "model_index.json").exists()


@pytest.mark.parametrize("cfg", [MotionConfig()])
def test_shipped_config_fits_in_20_mb(tmp_path: Path, cfg: MotionConfig) -> None:
    c = build_components(cfg, 0, STARTER_DIR)
    assert cfg.num_frames >= 12
    save_motion(c, tmp_path / "m")
    size = sum(p.stat().st_size for p in (tmp_path / "m").rglob("*") if p.is_file())
    assert size < 20_000_000, size


def test_recommended_steps_sample_the_trained_levels(tiny_motion: Path) -> None:
    """The saved scheduler at the recommended step count visits exactly the levels the recipe trains: 700 (the x0
    regression) then sample_sigma_min (inside the low band), not the stock 0.002 that makes step 2 a no-op."""
    info = json.loads((tiny_motion / "sfumato_motion.json").read_text())
    cfg = MotionConfig.from_json(json.loads((tiny_motion / "motion_config.json").read_text()))
    sched = EulerDiscreteScheduler.from_pretrained(str(tiny_motion / "scheduler"))
    sched.set_timesteps(info["recommended_steps"])
    assert info["recommended_steps"] == 2
    assert [round(float(s), 4) for s in sched.sigmas] == [700.0, cfg.sample_sigma_min, 0.0]
    t = MotionTrainConfig()
    low, high = math.exp(t.low_p_mean - 2 * t.low_p_std), math.exp(t.low_p_mean + 2 * t.low_p_std)
    assert t.low_noise_share > 0 and low < cfg.sample_sigma_min < high
    assert abs(math.log(700.0) - t.p_mean) < 0.01  # step 1 starts where the regression is trained
