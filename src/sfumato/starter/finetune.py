"""Fine-tune a Stable Diffusion pipeline folder on a user's (image, caption) pairs with the Starter's own UNet
loop (`train.train_unet`): the base a custom-model training job builds on.

Two modes: "full" trains the UNet (and the text encoder if asked); "attention" trains only the UNet's
cross-attention key/value projections, a small adapter-like subset that keeps the base model's layout skills.
Both go through the same loop, which trains whatever has requires_grad.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from .model import Components, StarterConfig, load_pipeline, save_pipeline
from .train import BatchFn, Progress, UNetTrainConfig, ema_components, train_unet

Mode = Literal["full", "attention"]


def image_caption_batches(
    pairs: Sequence[tuple[Image.Image, str]], size: tuple[int, int], batch_size: int, seed: int
) -> BatchFn:
    """batch_fn(step) -> (images in [-1, 1], captions): a deterministic draw (with replacement) per step, every
    image resized to `size` (w, h) so one batch is one tensor."""
    if not pairs:
        raise ValueError("the dataset is empty: give at least one (image, caption) pair")
    arrays = [np.asarray(img.convert("RGB").resize(size, Image.Resampling.LANCZOS)) for img, _ in pairs]
    captions = [c for _, c in pairs]

    def fn(step: int) -> tuple[torch.Tensor, list[str]]:
        rng = random.Random(f"{seed}-finetune-{step}")
        idx = [rng.randrange(len(pairs)) for _ in range(batch_size)]
        batch = torch.from_numpy(np.stack([arrays[i] for i in idx])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        return batch, [captions[i] for i in idx]

    return fn


def load_components(model_dir: Path) -> Components:
    cfg_path = model_dir / "starter_config.json"
    if not cfg_path.exists():
        raise ValueError(f"{model_dir} is not a Starter-format folder (no starter_config.json)")
    pipe = load_pipeline(model_dir)
    cfg = StarterConfig.from_json(json.loads(cfg_path.read_text()))
    return Components(pipe.tokenizer, pipe.text_encoder, pipe.vae, pipe.unet, cfg)


def select_trainable(c: Components, mode: Mode, train_text_encoder: bool) -> int:
    """Set requires_grad for the mode; returns the number of trainable parameters."""
    c.vae.requires_grad_(False)
    c.text_encoder.requires_grad_(train_text_encoder)
    if mode == "full":
        c.unet.requires_grad_(True)
    else:
        c.unet.requires_grad_(False)
        for name, p in c.unet.named_parameters():
            if ".attn2.to_k." in name or ".attn2.to_v." in name:
                p.requires_grad_(True)
    params = list(c.unet.parameters()) + list(c.text_encoder.parameters())
    return sum(p.numel() for p in params if p.requires_grad)


def finetune(
    model_dir: Path,
    pairs: Sequence[tuple[Image.Image, str]],
    out: Path,
    steps: int,
    mode: Mode = "attention",
    batch_size: int = 8,
    lr: float = 1e-4,
    seed: int = 0,
    train_text_encoder: bool = False,
    progress: Progress | None = None,
) -> Path:
    """Fine-tune `model_dir` on `pairs` and write the result as a pipeline folder at out/model (resumable:
    the checkpoint is out/unet.pt, rerunning continues from it)."""
    c = load_components(model_dir)
    if select_trainable(c, mode, train_text_encoder) == 0:
        raise ValueError("nothing to train: the model has no cross-attention projections for mode='attention'")
    native = (c.cfg.width, c.cfg.height)
    cfg = UNetTrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        text_lr=lr,
        warmup=min(50, steps // 10 + 1),
        seed=seed,
        train_text_encoder=train_text_encoder,
        checkpoint_every=max(1, min(100, steps)),
    )
    out.mkdir(parents=True, exist_ok=True)
    train_unet(c, image_caption_batches(pairs, native, batch_size, seed), cfg, out / "unet.pt", progress)
    final = ema_components(c, out / "unet.pt", train_text_encoder=train_text_encoder)
    save_pipeline(final, out / "model")
    return out / "model"
