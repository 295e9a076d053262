"""Training loops: the VAE stage and a generic, resumable UNet (+ text encoder) stage.

Determinism: every batch, every noise tensor and every timestep is a pure function of (seed, step), and a
checkpoint holds models, optimiser, EMA and the step; so an interrupted run resumed from its checkpoint ends
with the same weights as an uninterrupted one. `train_unet` knows nothing about the procedural world: it
takes a `batch_fn(step) -> (images in [-1, 1], captions)`, so fine-tuning on a user's data reuses it. A batch
may carry a third field, a (B, 1, H, W) object mask in [0, 1] at pixel resolution: with
`UNetTrainConfig.object_weight` w > 0 the per-latent-pixel loss is weighted by (1 + w * mask), the mask
area-downsampled to the latent grid (objects are 5-15% of the pixels and are otherwise ignored).
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import AttnProcessor

from .model import Components, train_scheduler
from .tokenizer import token_ids

# (images, captions) or (images, captions, object mask (B, 1, H, W) in [0, 1])
BatchFn = Callable[[int], tuple]
Progress = Callable[[int, int, dict], None]  # (step, total, metrics)


@dataclass
class UNetTrainConfig:
    steps: int
    batch_size: int = 64
    lr: float = 5e-4
    text_lr: float = 5e-4
    warmup: int = 150
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    # extra EMAs kept beside the shipped one, only to compare decays after a run (ema_components(probe=i));
    # they never touch training, so a plan whose ema_decay is a probe's decay ships that probe's weights
    ema_probe_decays: list[float] = field(default_factory=list)
    cond_dropout: float = 0.1  # empty caption, for classifier-free guidance
    snr_gamma: float = 5.0
    train_text_encoder: bool = True
    checkpoint_every: int = 100
    seed: int = 0
    grad_clip: float = 1.0
    object_weight: float = 0.0  # loss weight 1 + w * object mask (needs batches with a mask); 0: off
    # ... applied only to samples with t below this: at the noisiest steps the input shows no objects yet,
    # and weighting them there rewards painting objects everywhere (spurious copies; docs/starter-model.md)
    object_weight_max_t: int = 1000
    # share of each batch whose timestep is drawn from the noisiest `high_noise_from`..T range instead of
    # uniformly: the layout (where objects go) is only learned at those steps, where the input shows none
    high_noise_frac: float = 0.0
    high_noise_from: int = 700
    # from step `high_noise_late_from` on, the share becomes `high_noise_frac_late` (-1: never changes): the
    # layout is learned early, shape later at lower noise levels, which then get the samples
    high_noise_frac_late: float = -1.0
    high_noise_late_from: int = 0
    # bfloat16 autocast for the forward passes (weights, optimiser and loss stay float32). On CPUs with
    # AVX512-BF16 the step is ~1.35x faster; off by default so plans written before it resume unchanged
    bf16: bool = False


@dataclass
class VAETrainConfig:
    steps: int
    batch_size: int = 32
    full_batch_size: int = 16
    crop: int = 32
    full_frac: float = 0.2  # last part on whole images (GroupNorm statistics of real frames)
    lr: float = 1e-3
    kl_weight: float = 1e-6
    checkpoint_every: int = 100
    seed: int = 0
    bf16: bool = False  # bfloat16 autocast for encode/decode (loss and weights float32); see UNetTrainConfig
    # loss weight 1 + w * outline map (pixels within one of an object's outline; needs batches with a mask).
    # A shape is told by its outline, a few percent of the pixels: unweighted, the autoencoder rounded
    # small stars into circles (docs/starter-model.md, "How the recipe got here")
    edge_weight: float = 0.0


def lr_at(step: int, total: int, warmup: int, min_frac: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _atomic_save(obj: dict, path: Path) -> None:
    # write then rename: a kill during the save never leaves a truncated checkpoint
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load(path: Path) -> dict | None:
    return torch.load(path, map_location="cpu", weights_only=False) if path.exists() else None


class EMA:
    """Exponential moving average of parameters, with the usual warm-up of the decay."""

    def __init__(self, params: Iterable[torch.nn.Parameter], decay: float) -> None:
        self.shadow = [p.detach().clone() for p in params]
        self.decay = decay

    @torch.no_grad()
    def update(self, params: Iterable[torch.nn.Parameter], step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in params], 1 - d)  # one call, not one per tensor

    @torch.no_grad()
    def copy_to(self, params: Iterable[torch.nn.Parameter]) -> None:
        for s, p in zip(self.shadow, params, strict=True):
            p.copy_(s)


# --- VAE ------------------------------------------------------------------------------------------------


def train_vae(
    c: Components,
    batch_fn: Callable[[int, bool], torch.Tensor],
    cfg: VAETrainConfig,
    ckpt: Path,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> bool:
    """Train the autoencoder; batch_fn(step, full) gives images in [-1, 1] (crops unless full), or
    (images, object mask (B, 1, H, W)) for the outline weighting (cfg.edge_weight).
    Returns True when all steps are done (False when stopped at the deadline, checkpoint saved)."""
    vae = c.vae
    opt = torch.optim.AdamW(vae.parameters(), lr=cfg.lr, weight_decay=0.0)
    state, start = _load(ckpt), 0
    if state:
        vae.load_state_dict(state["vae"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
    vae.train()
    full_from = int(cfg.steps * (1 - cfg.full_frac))
    for step in range(start, cfg.steps):
        if deadline and time.time() > deadline:
            _atomic_save({"vae": vae.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt)
            return False
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_at(step, cfg.steps, 50, 0.05)
        batch = batch_fn(step, step >= full_from)
        x, mask = batch if isinstance(batch, tuple) else (batch, None)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
            post = vae.encode(x).latent_dist
            # decode the posterior mean: sampling with the initial std ~1 drowns the code in noise and the
            # decoder learns to blur; the UNet is trained on the means too, and the tiny KL keeps them bounded
            rec = vae.decode(post.mean).sample.float()
        mse = F.mse_loss(rec, x)
        loss = reconstruction_loss(rec, x, mask, cfg.edge_weight) + cfg.kl_weight * post.kl().float().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress:
            progress(step + 1, cfg.steps, {"mse": float(mse.detach())})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            _atomic_save({"vae": vae.state_dict(), "opt": opt.state_dict(), "step": step + 1}, ckpt)
    vae.eval()
    return True


def outline_map(mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) in [0, 1]: how much a 3x3 neighbourhood's object coverage varies (dilation minus
    erosion), 1 on and next to an object's outline, 0 inside objects and on the background."""
    return F.max_pool2d(mask, 3, 1, 1) + F.max_pool2d(-mask, 3, 1, 1)


def reconstruction_loss(
    rec: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None, edge_weight: float = 0.0
) -> torch.Tensor:
    """MSE + L1, per pixel weighted by 1 + edge_weight * outline_map(mask) when there is a mask."""
    if mask is None or not edge_weight:
        return F.mse_loss(rec, x) + F.l1_loss(rec, x)
    w = 1.0 + edge_weight * outline_map(mask.to(x.device, x.dtype))
    err = rec - x
    return (err.square() * w).mean() + (err.abs() * w).mean()


@torch.no_grad()
def set_latent_scale(c: Components, images: torch.Tensor) -> float:
    """SD convention: latents * scaling_factor has unit variance."""
    z = c.vae.encode(images).latent_dist.mean
    scale = float(1.0 / z.std())
    c.vae.register_to_config(scaling_factor=scale)
    return scale


# --- UNet (+ text encoder) ------------------------------------------------------------------------------


def encode_text(c: Components, captions: list[str]) -> torch.Tensor:
    return c.text_encoder(token_ids(c.tokenizer, captions).to(c.text_encoder.device))[0]


def object_weight_map(mask: torch.Tensor, latent_hw: tuple[int, int], object_weight: float) -> torch.Tensor:
    """(B, 1, h, w) per-latent-pixel loss weights 1 + w * mask, the pixel mask area-averaged to the latent grid."""
    small = F.adaptive_avg_pool2d(mask.float(), latent_hw)
    return 1.0 + object_weight * small


def denoising_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    snr_weight: torch.Tensor,
    mask: torch.Tensor | None = None,
    object_weight: float = 0.0,
) -> torch.Tensor:
    """Min-SNR-weighted v-prediction MSE; with a mask and object_weight > 0, pixels are weighted by
    (1 + w * mask) first (w = 0 or no mask: the plain mean)."""
    per_px = F.mse_loss(pred, target, reduction="none")
    if mask is not None and object_weight:
        per_px = per_px * object_weight_map(mask.to(per_px.device), tuple(per_px.shape[-2:]), object_weight)
    return (snr_weight * per_px.mean(dim=(1, 2, 3))).mean()


def sample_timesteps(cfg: UNetTrainConfig, step: int, n: int, gen: torch.Generator, num_train: int) -> torch.Tensor:
    """n training timesteps: uniform, except the first `round(share * n)`, drawn from high_noise_from..T,
    where share is high_noise_frac, or high_noise_frac_late from step high_noise_late_from on."""
    t = torch.randint(0, num_train, (n,), generator=gen)
    late = cfg.high_noise_frac_late >= 0 and step >= cfg.high_noise_late_from
    n_high = round((cfg.high_noise_frac_late if late else cfg.high_noise_frac) * n)
    if n_high:
        t[:n_high] = torch.randint(cfg.high_noise_from, num_train, (n_high,), generator=gen)
    return t


def mask_below(mask: torch.Tensor, t: torch.Tensor, max_t: int) -> torch.Tensor:
    """The (B, 1, H, W) object mask with the samples at t >= max_t cleared (their loss stays unweighted)."""
    return mask * (t < max_t).view(-1, 1, 1, 1).to(mask.dtype)


def train_unet(
    c: Components,
    batch_fn: BatchFn,
    cfg: UNetTrainConfig,
    ckpt: Path,
    progress: Progress | None = None,
    deadline: float | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
) -> bool:
    """v-prediction denoising loss with min-SNR weighting on a frozen VAE's latents. The parameters with
    requires_grad (UNet, and the text encoder if enabled) are trained, so LoRA adapters injected beforehand
    train the same way. Returns True when finished, False when stopped at the deadline."""
    sched = train_scheduler()
    device = next(c.unet.parameters()).device
    alphas = sched.alphas_cumprod.to(device)
    snr_all = alphas / (1 - alphas).clamp(min=1e-8)
    unet_ps = [p for p in c.unet.parameters() if p.requires_grad]
    text_ps = [p for p in c.text_encoder.parameters() if p.requires_grad] if cfg.train_text_encoder else []
    groups = [{"params": unet_ps, "lr": cfg.lr, "base": cfg.lr}]
    if text_ps:
        groups.append({"params": text_ps, "lr": cfg.text_lr, "base": cfg.text_lr})
    # fused: one kernel for all parameters instead of ~10 small ops per tensor (CPU and CUDA alike)
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay, fused=True)
    params = unet_ps + text_ps
    ema = EMA(params, cfg.ema_decay)
    probes = [EMA(params, d) for d in cfg.ema_probe_decays]
    state, start = _load(ckpt), 0
    if state:
        c.unet.load_state_dict(state["unet"])
        c.text_encoder.load_state_dict(state["text_encoder"])
        opt.load_state_dict(state["opt"])
        ema.shadow = state["ema"]
        for probe, shadow in zip(probes, state.get("ema_probes", []), strict=False):
            probe.shadow = shadow
        start = state["step"]

    def save(step: int) -> None:
        _atomic_save(
            {
                "unet": c.unet.state_dict(),
                "text_encoder": c.text_encoder.state_dict(),
                "opt": opt.state_dict(),
                "ema": ema.shadow,
                "ema_probes": [probe.shadow for probe in probes],
                "step": step,
            },
            ckpt,
        )

    c.vae.eval().requires_grad_(False)
    c.unet.train()
    c.text_encoder.train(cfg.train_text_encoder)
    if cfg.bf16:
        # the CPU flash-attention kernel's bfloat16 backward is ~5x slower than the plain matmul-softmax
        # path at these sequence lengths (64 latent pixels, 77 tokens)
        c.unet.set_attn_processor(AttnProcessor())
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.bf16)
    scale = c.vae.config.scaling_factor
    for step in range(start, cfg.steps):
        if deadline and time.time() > deadline:
            save(step)
            return False
        f = lr_at(step, cfg.steps, cfg.warmup, cfg.min_lr_frac)
        for g in opt.param_groups:
            g["lr"] = g["base"] * f
        batch = batch_fn(step)
        images, captions = batch[0], batch[1]
        mask = batch[2] if len(batch) > 2 else None
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        drop = torch.rand(len(captions), generator=gen) < cfg.cond_dropout
        captions = ["" if d else t for d, t in zip(drop.tolist(), captions, strict=True)]
        with torch.no_grad(), autocast:
            lat = c.vae.encode(images.to(device)).latent_dist.mean.float() * scale
        noise = torch.randn(lat.shape, generator=gen).to(device)
        t = sample_timesteps(cfg, step, lat.shape[0], gen, sched.config.num_train_timesteps)
        if mask is not None:
            mask = mask_below(mask, t, cfg.object_weight_max_t)
        t = t.to(device)
        noisy = sched.add_noise(lat, noise, t)
        target = sched.get_velocity(lat, noise, t)
        with autocast:
            with torch.set_grad_enabled(cfg.train_text_encoder):
                cond = encode_text(c, captions)
            pred = c.unet(noisy, t, cond).sample.float()
        snr = snr_all[t]
        # min-SNR weighting for v-prediction, +1 so the zero-SNR endpoint keeps weight 1 (spike's choice)
        w = (snr + 1).clamp(max=cfg.snr_gamma) / (snr + 1)
        loss = denoising_loss(pred, target, w, mask, cfg.object_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()
        ema.update(params, step)
        for probe in probes:
            probe.update(params, step)
        if progress:
            progress(step + 1, cfg.steps, {"loss": float(loss)})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save(step + 1)
            if on_checkpoint:
                on_checkpoint(step + 1)
    return True


def ema_components(c: Components, ckpt: Path, train_text_encoder: bool = True, probe: int | None = None) -> Components:
    """A copy of the components with the EMA weights from a UNet checkpoint (what gets shipped), or with
    those of EMA probe number `probe` (UNetTrainConfig.ema_probe_decays), or, with probe=-1, the raw
    trained weights."""
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    out = copy.deepcopy(c)
    out.unet.load_state_dict(state["unet"])
    out.text_encoder.load_state_dict(state["text_encoder"])
    params = [p for p in out.unet.parameters() if p.requires_grad]
    if train_text_encoder:
        params += [p for p in out.text_encoder.parameters() if p.requires_grad]
    if probe != -1:
        shadow = state["ema"] if probe is None else state["ema_probes"][probe]
        with torch.no_grad():
            for s, p in zip(shadow, params, strict=True):
                p.copy_(s)
    out.unet.eval()
    out.text_encoder.eval()
    return out


# --- decoder refinement ---------------------------------------------------------------------------------


def refine_decoder(
    c: Components,
    batch_fn: Callable[[int], torch.Tensor],
    steps: int,
    ckpt: Path,
    lr: float = 4e-4,
    checkpoint_every: int = 50,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> bool:
    """Train only the VAE decoder on whole frames. The encoder is frozen, so the latents (and everything
    the UNet learned on them) stay valid: this sharpens edges after the UNet stage at no risk to it."""
    dec = list(c.vae.decoder.parameters()) + list(c.vae.post_quant_conv.parameters())
    c.vae.requires_grad_(False)
    for p in dec:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(dec, lr=lr, weight_decay=0.0)
    state, start = _load(ckpt), 0
    if state:
        c.vae.load_state_dict(state["vae"])
        opt.load_state_dict(state["opt"])
        start = state["step"]
    c.vae.train()
    for step in range(start, steps):
        if deadline and time.time() > deadline:
            _atomic_save({"vae": c.vae.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt)
            return False
        for g in opt.param_groups:
            g["lr"] = lr * lr_at(step, steps, 20, 0.05)
        x = batch_fn(step)
        with torch.no_grad():
            z = c.vae.encode(x).latent_dist.mean
        rec = c.vae.decode(z).sample
        mse = F.mse_loss(rec, x)
        loss = mse + F.l1_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress:
            progress(step + 1, steps, {"mse": float(mse.detach())})
        if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
            _atomic_save({"vae": c.vae.state_dict(), "opt": opt.state_dict(), "step": step + 1}, ckpt)
    c.vae.eval().requires_grad_(False)
    return True
