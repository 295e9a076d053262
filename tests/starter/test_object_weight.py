"""The object-pixel loss weighting of the UNet stage: (1 + w * mask) on the latent grid, w = 0 is the old loss;
only samples below object_weight_max_t are weighted. And the timestep draw with its high-noise share."""

import random

import numpy as np
import torch
import torch.nn.functional as F

from sfumato.starter.model import StarterConfig
from sfumato.starter.recipe import world_unet_batch
from sfumato.starter.train import UNetTrainConfig, denoising_loss, mask_below, object_weight_map, sample_timesteps
from sfumato.starter.world import render, render_with_mask, sample_scene


def _old_loss(pred, target, snr_w):
    return (snr_w * F.mse_loss(pred, target, reduction="none").mean(dim=(1, 2, 3))).mean()


def _case():
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 8, 4, 4, generator=g), torch.randn(2, 8, 4, 4, generator=g)
    snr_w = torch.tensor([0.5, 1.0])
    mask = torch.zeros(2, 1, 16, 16)  # pixel mask; the latent grid is 4x4 (4 px per latent pixel)
    mask[:, :, :8, :8] = 1.0  # latent pixels [0:2, 0:2] fully covered
    return pred, target, snr_w, mask


def test_zero_weight_and_no_mask_equal_the_old_loss():
    pred, target, snr_w, mask = _case()
    old = _old_loss(pred, target, snr_w)
    assert torch.equal(denoising_loss(pred, target, snr_w), old)
    assert torch.equal(denoising_loss(pred, target, snr_w, mask, 0.0), old)


def test_weighting_changes_only_masked_pixels():
    pred, target, snr_w, mask = _case()
    inside = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    inside[..., :2, :2] = True
    # errors only outside the mask: the weighting changes nothing
    p_out = torch.where(inside, target, pred)
    assert torch.allclose(denoising_loss(p_out, target, snr_w, mask, 8.0), _old_loss(p_out, target, snr_w))
    # errors only inside the mask: the loss is scaled by exactly 1 + w
    p_in = torch.where(inside, pred, target)
    assert torch.allclose(denoising_loss(p_in, target, snr_w, mask, 8.0), 9.0 * _old_loss(p_in, target, snr_w))


def test_weight_map_is_area_downsampled():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :2, :] = 1.0  # the top 2 of the 4 pixel rows of latent pixels (0, 0) and (0, 1)
    wmap = object_weight_map(mask, (2, 2), 4.0)
    assert torch.allclose(wmap, torch.tensor([[[[3.0, 3.0], [1.0, 1.0]]]]))  # 1 + 4 * 0.5


def test_render_with_mask_matches_render():
    scene = sample_scene(random.Random(3), "train")
    img, mask = render_with_mask(scene, 64, 48, random.Random(7))
    assert np.array_equal(img, render(scene, 64, 48, random.Random(7)))
    assert mask.shape == (48, 64) and 0.0 < mask.mean() < 0.5 and mask.min() >= 0.0 and mask.max() <= 1.0


def test_world_batch_mask_is_optional_and_leaves_images_unchanged():
    cfg = StarterConfig.tiny()
    plain = world_unet_batch(cfg, 0, 3)(5)
    masked = world_unet_batch(cfg, 0, 3, with_mask=True)(5)
    assert len(plain) == 2 and len(masked) == 3
    assert torch.equal(plain[0], masked[0]) and plain[1] == masked[1]
    assert masked[2].shape == (3, 1, *plain[0].shape[-2:])


def test_mask_below_clears_only_the_noisiest_samples():
    mask = torch.ones(3, 1, 4, 4)
    out = mask_below(mask, torch.tensor([10, 700, 699]), 700)
    assert out[0].eq(1).all() and out[1].eq(0).all() and out[2].eq(1).all()
    # weighted loss of a sample at t >= max_t equals its unweighted loss
    pred, target, snr_w, pix = _case()
    cleared = mask_below(pix, torch.tensor([900, 900]), 700)
    assert torch.equal(denoising_loss(pred, target, snr_w, cleared, 8.0), _old_loss(pred, target, snr_w))


def _high_share(cfg: UNetTrainConfig, step: int, n: int = 20_000) -> float:
    t = sample_timesteps(cfg, step, n, torch.Generator().manual_seed(step), 1000)
    assert int(t.min()) >= 0 and int(t.max()) <= 999
    return float((t >= cfg.high_noise_from).float().mean())


def test_high_noise_share_switches_at_the_late_step():
    cfg = UNetTrainConfig(steps=100, high_noise_frac=0.4, high_noise_frac_late=0.1, high_noise_late_from=50)
    # share of t >= 700: frac + (1 - frac) * 0.3 from the uniform part
    assert abs(_high_share(cfg, 49) - (0.4 + 0.6 * 0.3)) < 0.02
    assert abs(_high_share(cfg, 50) - (0.1 + 0.9 * 0.3)) < 0.02
    never = UNetTrainConfig(steps=100, high_noise_frac=0.4)  # late share -1: the early share throughout
    assert abs(_high_share(never, 99) - 0.58) < 0.02
    uniform = UNetTrainConfig(steps=100)
    assert abs(_high_share(uniform, 0) - 0.3) < 0.02
