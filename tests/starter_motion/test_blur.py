"""train.blur_latents, behind the `low_blur` setting: std 0 leaves a clip as it is, flat latents stay flat
(replicated edges), a positive std spreads a point and keeps its mass."""

from __future__ import annotations

import torch

from sfumato.starter.motion.train import MotionTrainConfig, blur_latents


def test_zero_std_is_identity_and_flat_stays_flat() -> None:
    x = torch.randn(2, 3, 4, 8, 8)
    y = blur_latents(x, torch.tensor([0.0, 0.0]))
    assert torch.equal(y, x)
    flat = torch.full((1, 2, 4, 8, 8), 2.5)
    assert torch.allclose(blur_latents(flat, torch.tensor([1.5])), flat)


def test_positive_std_spreads_one_clip_only() -> None:
    x = torch.zeros(2, 1, 1, 9, 9)
    x[:, 0, 0, 4, 4] = 1.0
    y = blur_latents(x, torch.tensor([0.0, 1.0]))
    assert torch.equal(y[0], x[0])
    assert y[1, 0, 0, 4, 4] < 0.5 and y[1, 0, 0, 4, 5] > 0.05
    assert abs(float(y[1].sum()) - 1.0) < 1e-5


def test_blur_is_off_by_default() -> None:
    assert MotionTrainConfig().low_blur == 0.0
