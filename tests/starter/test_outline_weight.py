"""The outline weighting of the VAE stage: pixels on and next to an object's outline weigh 1 + w in the
reconstruction loss; w = 0 (or no mask) is the plain MSE + L1 of earlier plans."""

import torch
import torch.nn.functional as F

from sfumato.starter.model import StarterConfig
from sfumato.starter.recipe import make_plan, world_vae_batch
from sfumato.starter.train import VAETrainConfig, outline_map, reconstruction_loss


def _square_mask() -> torch.Tensor:
    mask = torch.zeros(1, 1, 12, 12)
    mask[..., 3:9, 3:9] = 1.0
    return mask


def test_outline_map_marks_the_outline_only():
    out = outline_map(_square_mask())[0, 0]
    assert out[3, 5] == 1 and out[2, 5] == 1  # the object's edge pixel and the background pixel beside it
    assert out[5, 5] == 0 and out[0, 0] == 0  # deep inside, far outside
    assert out[4:8, 4:8].sum() == 0 and out.sum() == 8 * 8 - 4 * 4  # a ring two pixels wide
    # soft coverage (anti-aliased edges) gives partial values
    soft = torch.zeros(1, 1, 5, 5)
    soft[..., 2, 2] = 0.25
    assert torch.isclose(outline_map(soft)[0, 0, 1, 1], torch.tensor(0.25))


def test_no_mask_or_zero_weight_is_the_plain_loss():
    g = torch.Generator().manual_seed(0)
    rec, x = torch.randn(2, 3, 12, 12, generator=g), torch.randn(2, 3, 12, 12, generator=g)
    plain = F.mse_loss(rec, x) + F.l1_loss(rec, x)
    assert torch.equal(reconstruction_loss(rec, x), plain)
    assert torch.equal(reconstruction_loss(rec, x, _square_mask().expand(2, 1, 12, 12), 0.0), plain)


def test_errors_on_the_outline_weigh_1_plus_w():
    x = torch.zeros(1, 3, 12, 12)
    mask = _square_mask()
    ring = outline_map(mask).bool().expand(1, 3, 12, 12)
    on_ring = torch.where(ring, 0.5, 0.0)
    inside = torch.zeros(1, 3, 12, 12)
    inside[..., 5:7, 5:7] = 0.5
    plain_ring, plain_inside = reconstruction_loss(on_ring, x), reconstruction_loss(inside, x)
    assert torch.isclose(reconstruction_loss(on_ring, x, mask, 10.0), 11.0 * plain_ring)
    assert torch.equal(reconstruction_loss(inside, x, mask, 10.0), plain_inside)


def test_vae_batch_mask_is_optional_and_leaves_images_unchanged():
    cfg = StarterConfig.tiny()
    for full in (False, True):
        plain = world_vae_batch(cfg, 0, 4, 2, 16)(3, full)
        images, mask = world_vae_batch(cfg, 0, 4, 2, 16, with_mask=True)(3, full)
        assert torch.equal(plain, images)
        assert mask.shape == (images.shape[0], 1, *images.shape[-2:]) and 0 <= mask.min() <= mask.max() <= 1


def test_plan_records_the_edge_weight_and_old_plans_resume_without_it():
    from sfumato.starter import recipe

    v = make_plan(60, 0)["vae"]
    assert v["edge_weight"] == recipe.VAE_EDGE_WEIGHT > 0
    assert VAETrainConfig(**{k: x for k, x in v.items() if k != "edge_weight"}).edge_weight == 0.0
