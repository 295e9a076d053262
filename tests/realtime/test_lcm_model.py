"""An operator's LCM model is recognised by its scheduler (LCMScheduler in scheduler/scheduler_config.json) and
runs on it; any other model runs the measured few-step sampler (Euler). Engine-level, on tiny models built in
code; the composite keeps every unmasked pixel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from diffusers import LCMScheduler
from PIL import Image

from sfumato.engine.engine import Engine
from sfumato.engine.realtime import METHOD_FEW_STEP, METHOD_LCM, RealtimeRenderer, RealtimeRequest, few_step_plan
from sfumato.engine.tiny import build_tiny_sd15


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lcm")
    plain = build_tiny_sd15(root / "plain", seed=0, buckets=[[64, 64]])
    lcm = build_tiny_sd15(root / "lcm", seed=0, buckets=[[64, 64]])
    config_file = lcm / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps(dict(LCMScheduler.from_config(config).config, _class_name="LCMScheduler")))
    return plain, lcm


def test_an_lcm_folder_runs_on_its_own_scheduler_and_others_on_euler(folders: tuple[Path, Path]) -> None:
    plain, lcm = folders
    assert (few_step_plan(lcm).scheduler, few_step_plan(lcm).method) == (None, METHOD_LCM)
    assert (few_step_plan(plain).scheduler, few_step_plan(plain).method) == ("EULER_DISCRETE", METHOD_FEW_STEP)
    assert few_step_plan(plain).adapters == () and few_step_plan(lcm).max_steps == 50
    renderer = RealtimeRenderer(Engine(1 << 28, num_threads=1))
    picture = Image.new("RGB", (96, 96), (200, 40, 40))
    mask = Image.new("L", (96, 96), 0)
    mask.paste(255, (48, 0, 96, 96))
    for folder, method in ((lcm, METHOD_LCM), (plain, METHOD_FEW_STEP)):
        request = RealtimeRequest(folder, "a red square", picture, 96, 96, steps=4, strength=0.5, guidance=1.5,
                                  seed=1, mask=mask)  # fmt: skip
        out, used = renderer.render(request)
        assert used == method and out.size == (96, 96)
        a, b = np.asarray(out, np.int16), np.asarray(picture, np.int16)
        assert np.abs(a - b)[:, :46].max() == 0, "unmasked pixels must be the input's, exactly"
        assert np.abs(a - b)[:, 50:].mean() > 1, "the masked half is repainted"
