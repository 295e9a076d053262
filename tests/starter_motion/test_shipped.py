"""The shipped folder, models/starter-motion: stock diffusers and MotionPipeline both load it and render a clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from diffusers import DiffusionPipeline, StableVideoDiffusionPipeline
from PIL import Image

from sfumato.starter.motion.model import MotionPipeline

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "starter-motion"


def _image() -> Image.Image:
    img = np.zeros((32, 40, 3), dtype=np.uint8)
    img[:] = (30, 30, 200)
    img[4:14, 4:14] = (230, 40, 40)
    return Image.fromarray(img)


def test_shipped_folder_size_and_format() -> None:
    size = sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file())
    assert size <= 20_000_000, size
    index = json.loads((SHIPPED / "model_index.json").read_text())
    assert index["_class_name"] == "StableVideoDiffusionPipeline"
    info = json.loads((SHIPPED / "sfumato_motion.json").read_text())
    assert info["num_frames"] == 12 and info["fps"] == 8
    assert all(p.suffix != ".bin" for p in SHIPPED.rglob("*"))  # safetensors only


def test_shipped_loads_with_stock_diffusers() -> None:
    torch.set_num_threads(1)
    pipe = DiffusionPipeline.from_pretrained(str(SHIPPED), dtype=torch.float32, local_files_only=True)
    assert type(pipe) is StableVideoDiffusionPipeline
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        frames = pipe(
            _image(),
            height=32,
            width=40,
            num_frames=4,
            num_inference_steps=2,
            max_guidance_scale=1.0,
            fps=8,
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).frames
    assert frames.shape == (1, 4, 32, 40, 3) and np.isfinite(frames).all()


def test_shipped_loads_with_motion_pipeline() -> None:
    torch.set_num_threads(1)
    pipe = MotionPipeline.load(SHIPPED)
    assert pipe.text_encoder is not None and pipe.tokenizer is not None
    with torch.no_grad():
        frames = pipe(
            _image(),
            prompt="moving right",
            height=32,
            width=40,
            num_frames=4,
            num_inference_steps=2,
            max_guidance_scale=1.0,
            fps=8,
            output_type="np",
            generator=torch.Generator().manual_seed(0),
        ).frames
    assert frames.shape == (1, 4, 32, 40, 3) and np.isfinite(frames).all()


def test_shipped_recommended_steps_visit_the_trained_levels() -> None:
    """The engine samples the shipped folder with its recommended steps: 700 (the trained x0 regression), then
    the folder's sample_sigma_min (inside the recipe's low band), not the stock 0.002 second step."""
    from diffusers import EulerDiscreteScheduler

    from sfumato.starter.motion.model import MotionConfig

    info = json.loads((SHIPPED / "sfumato_motion.json").read_text())
    cfg = MotionConfig.from_json(json.loads((SHIPPED / "motion_config.json").read_text()))
    sched = EulerDiscreteScheduler.from_pretrained(str(SHIPPED / "scheduler"))
    sched.set_timesteps(info["recommended_steps"])
    assert info["recommended_steps"] == cfg.recommended_steps == 2
    assert [round(float(s), 4) for s in sched.sigmas] == [700.0, cfg.sample_sigma_min, 0.0]
    assert 0.3 < cfg.sample_sigma_min < 3.0
