"""Same seed and plan -> same weights, and a run killed mid-way resumes to the same weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sfumato.starter.motion.train import train


class Killed(Exception):
    pass


def _weights(out: Path) -> dict[str, torch.Tensor]:
    st = torch.load(out / "motion.pt", map_location="cpu", weights_only=False)
    return {**{f"unet.{k}": v for k, v in st["unet"].items()}, **{f"ema.{i}": t for i, t in enumerate(st["ema"])}}


def _kill_at(n: int):
    def on_step(step: int) -> None:
        if step == n:
            raise Killed

    return on_step


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    kw = dict(minutes=0.1, seed=3, tiny=True, progress=False, snapshot_every=0, overrides={"steps": 5})
    assert train(tmp_path / "a", **kw) is not None
    with pytest.raises(Killed):  # killed after step 3: the checkpoint of step 2 is what survives
        train(tmp_path / "b", **kw, on_step=_kill_at(3))
    assert torch.load(tmp_path / "b" / "motion.pt", weights_only=False)["step"] == 2
    assert train(tmp_path / "b", **kw) is not None
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # and the exported folders are the same bytes
    for f in ("unet/diffusion_pytorch_model.safetensors", "image_encoder/model.safetensors"):
        assert (tmp_path / "a" / "model" / f).read_bytes() == (tmp_path / "b" / "model" / f).read_bytes()


def test_plan_is_frozen_and_overrides_checked(tmp_path: Path) -> None:
    from sfumato.starter.motion.train import make_plan

    plan = make_plan(60, 0)
    assert plan["train"]["steps"] > 1000 and plan["config"]["num_frames"] >= 12
    with pytest.raises(ValueError, match="not a plan setting"):
        make_plan(1, 0, overrides={"nope": 1})


def test_plan_overrides_parse_strings_in_the_settings_type() -> None:
    from sfumato.starter.motion.train import make_plan

    plan = make_plan(1, 0, overrides={"unet_channels": "64,64,64", "bf16": "false", "steps": "7", "lr": "1e-3"})
    assert plan["config"]["unet_channels"] == [64, 64, 64] and plan["train"]["bf16"] is False
    assert plan["train"]["steps"] == 7 and plan["train"]["lr"] == 1e-3
    with pytest.raises(ValueError, match="true or false"):
        make_plan(1, 0, overrides={"bf16": "maybe"})


def test_unet_layers_setting_adds_resnets_and_old_configs_load() -> None:
    from sfumato.starter.motion.model import MotionConfig, build_unet
    from sfumato.starter.motion.train import make_plan

    plan = make_plan(1, 0, tiny=True, overrides={"unet_layers": "2,1"})
    cfg = MotionConfig.from_json(plan["config"])
    assert cfg.unet_layers == (2, 1)
    unet = build_unet(cfg)
    assert [len(b.resnets) for b in unet.down_blocks] == [2, 1]
    assert [len(b.resnets) for b in unet.up_blocks] == [2, 3]  # the way up has one more per level
    old = {k: v for k, v in MotionConfig().to_json().items() if k != "unet_layers"}  # a folder from before
    assert MotionConfig.from_json(old).unet_layers == MotionConfig().unet_layers == (1, 1, 1)
