"""The UNet loop reused for fine-tuning on a user's (image, caption) pairs: full and attention-only."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sfumato.starter.finetune import finetune, image_caption_batches, load_components, select_trainable
from sfumato.starter.train import denoising_loss, encode_text, train_scheduler


def _dataset() -> list[tuple[Image.Image, str]]:
    # a "new concept": an orange frame around a dark square, under a word the base model never saw
    img = np.full((48, 48, 3), (240, 130, 20), np.uint8)
    img[8:40, 8:40] = (20, 20, 30)
    return [(Image.fromarray(img), "a zorbly frame")] * 4


@torch.no_grad()
def _loss(model: Path, pairs) -> float:
    """Denoising loss on the dataset with fixed noise and timesteps (lower: the model fits it better)."""
    c = load_components(model)
    images, captions = image_caption_batches(pairs, (c.cfg.width, c.cfg.height), 8, seed=123)(0)
    gen = torch.Generator().manual_seed(0)
    sched = train_scheduler()
    lat = c.vae.encode(images).latent_dist.mean * c.vae.config.scaling_factor
    noise = torch.randn(lat.shape, generator=gen)
    t = torch.linspace(100, 900, lat.shape[0]).long()
    pred = c.unet(sched.add_noise(lat, noise, t), t, encode_text(c, captions)).sample
    return float(denoising_loss(pred, sched.get_velocity(lat, noise, t), torch.ones(len(t))))


def test_attention_finetune_fits_the_new_data_and_touches_only_cross_attention(tiny_run, tmp_path):
    pairs = _dataset()
    before = _loss(tiny_run, pairs)
    out = finetune(tiny_run, pairs, tmp_path / "ft", steps=30, mode="attention", batch_size=4, lr=3e-3)
    assert _loss(out, pairs) < before
    base, tuned = load_components(tiny_run), load_components(out)
    tuned_params = dict(tuned.unet.named_parameters())
    changed = {n for n, p in base.unet.named_parameters() if not torch.equal(p, tuned_params[n])}
    assert changed and all(".attn2.to_k." in n or ".attn2.to_v." in n for n in changed)
    for a, b in zip(base.vae.parameters(), tuned.vae.parameters(), strict=True):
        assert torch.equal(a, b)


def test_full_finetune_trains_every_unet_weight(tiny_run, tmp_path):
    c = load_components(tiny_run)
    n_full = select_trainable(c, "full", train_text_encoder=False)
    n_attn = select_trainable(c, "attention", train_text_encoder=False)
    assert n_full == sum(p.numel() for p in c.unet.parameters()) > n_attn > 0
    out = finetune(tiny_run, _dataset(), tmp_path / "full", steps=4, mode="full", batch_size=2)
    assert (out / "model_index.json").exists() and (out / "sfumato_model.json").exists()


def test_empty_dataset_and_foreign_folder_are_refused(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="empty"):
        image_caption_batches([], (32, 32), 4, 0)
    with pytest.raises(ValueError, match="starter_config.json"):
        finetune(tmp_path, _dataset(), tmp_path / "x", steps=1)
