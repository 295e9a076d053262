"""Training behind `sfumato starter-motion train`: SVD's EDM parametrisation on procedural clips, resumable.

Output folder (DIR): plan.json (the frozen plan: a rerun resumes it), motion.pt (the checkpoint: weights,
optimiser, EMA, step), snapshots/step-N/ (EMA pipeline folders while training goes on), model/ (the final
pipeline folder). Every clip, noise tensor and dropout draw is a function of (seed, step), so a killed run
that resumes from its last checkpoint ends with the same weights as one that was never stopped.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from diffusers.models.attention_processor import AttnProcessor
from tqdm import tqdm
from transformers import CLIPTextModel, CLIPTokenizer

from ..recipe import bf16_is_native
from .clips import DIRECTION_NAMES, DIRECTION_PHRASES, FPS, bucket_id, render_clip, sample_bucket, sample_spec
from .model import (
    MotionComponents,
    MotionConfig,
    build_image_encoder,
    build_unet,
    clip_pixels,
    encode_phrases,
    save_motion,
)

# The Starter's shipped folder (src/sfumato/starter/motion/ -> the checkout's models/starter): its VAE, text
# encoder and tokenizer are reused, frozen.
STARTER_DIR = Path(__file__).resolve().parents[4] / "models" / "starter"
# Nominal seconds per step (4 clips x 12 frames, bfloat16, one thread, this project's 2-core VM): --minutes
# becomes a fixed step plan, so a (seed, minutes) pair trains the same steps on any machine. The 64-64-96 UNet
# measured 0.89 s per step alone on the VM and 0.98 s over an 800-step run beside the lead's jobs on the other
# core (session 15; session 14 saw 1.0-4.3 s with four engineers' suites on it). 1.25 s leaves ~20% for load:
# --minutes 60 is 2,880 steps. Two threads beside a suite measured 21.5 s per step, so the recipe trains on one.
STEP_S = 1.25


@dataclass
class MotionTrainConfig:
    steps: int = 1000
    seed: int = 0
    batch_size: int = 4  # clips per step (x num_frames frames)
    lr: float = 2e-3  # 4e-3 diverged (spike r2, docs)
    warmup: int = 50
    min_lr_frac: float = 0.1
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.995  # a ~200-step window: the model still improves fast at the end of an hour
    bf16: bool = False
    checkpoint_every: int = 100
    prompt_prob: float = 0.5  # share of clips whose prompt names the direction (i2v/t2v), the rest follow the rule
    # SVD_Xtend's bands: image tokens zeroed below 2p, the frame latent in p..3p. Off: the one-step sampler
    # uses no CFG, and a clip without its frame 0 has no right answer to regress to
    cond_dropout: float = 0.0
    # log sigma ~ N(p_mean, p_std). The clip is a deterministic function of frame 0, strength and direction,
    # so the conditional mean IS the answer: train only where the UNet's input is pure noise (sigma ~ 700,
    # the sampler's sigma_max; c_skip ~ 0, x0 = -F): the first Euler step from 700 returns exactly that x0
    # prediction. Plain regression of the whole clip from the conditioning; no capacity spent on denoising
    # levels the sampler never visits (the sampler's only other level is the low one below; the previous
    # recipe: SVD's N(0.7, 1.6) plus EDM's image levels, 16 steps; docs/starter-motion.md)
    p_mean: float = 6.55  # ln 700
    p_std: float = 0.5
    # share of the clips at a low level, log sigma ~ N(low_p_mean, low_p_std): they train the sampler's second
    # step (at model.MotionConfig.sample_sigma_min, 0.5), which redraws the regression's blurred objects as
    # shapes (spike C, docs: last frame kept 16.7% vs 6.9% at 700 steps). The old EDM recipe: 0.5 at N(-1.2, 1.2)
    low_noise_share: float = 0.2
    low_p_mean: float = 0.0
    low_p_std: float = 0.5
    # The second step's input is the regression's output (soft, rounded blobs) plus noise at 0.5, but the low
    # clips above show the true clip under that noise, so the denoiser learns to keep whatever shape it is
    # given. With low_blur > 0 a low clip's clean latents are Gaussian-blurred (std ~ U(0, low_blur) latent
    # pixels, per clip) before the noise, and the target stays the sharp clip: the step learns to redraw a
    # blob as the shape frame 0 shows. 0: off (no extra random draws, the same weights as before)
    low_blur: float = 0.0
    cond_aug_mean: float = -3.0  # log of the conditioning frame's noise (noise_aug_strength)
    cond_aug_std: float = 0.5
    object_weight: float = 3.0  # loss weight 1 + w * (the objects' coverage now or in frame 0), on latents


def make_plan(
    minutes: float, seed: int, tiny: bool = False, device: str = "cpu", overrides: Mapping[str, Any] | None = None
) -> dict:
    cfg = MotionConfig.tiny() if tiny else MotionConfig()
    tcfg = MotionTrainConfig(steps=max(2, int(minutes * 60 / STEP_S)), seed=seed, bf16=bf16_is_native(device))
    if tiny:
        tcfg.batch_size, tcfg.warmup, tcfg.checkpoint_every = 2, 2, 2
    plan = {"seed": seed, "minutes": minutes, "config": cfg.to_json(), "train": asdict(tcfg)}
    for key, value in (overrides or {}).items():
        part = "train" if key in plan["train"] else "config" if key in plan["config"] else None
        if part is None:
            names = ", ".join([*plan["train"], *plan["config"]])
            raise ValueError(f"{key!r} is not a plan setting; use one of: {names}")
        plan[part][key] = _setting(key, plan[part][key], value)
    return plan


def _setting(key: str, old: Any, value: Any) -> Any:
    """An override in the type of the plan's value; strings (from the CLI's --set) are parsed."""
    if isinstance(old, (list, tuple)):
        items = value.split(",") if isinstance(value, str) else list(value)
        return [_setting(key, old[0], v.strip() if isinstance(v, str) else v) for v in items] if old else items
    if isinstance(old, bool):
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{key}={value!r}: write true or false")
            return value.lower() in ("true", "1")
        return bool(value)
    try:
        return type(old)(value)
    except ValueError:
        raise ValueError(f"{key}={value!r}: expected a {type(old).__name__}") from None


def load_starter_parts(starter_dir: Path) -> tuple[AutoencoderKL, CLIPTextModel, CLIPTokenizer]:
    vae = AutoencoderKL.from_pretrained(str(starter_dir / "vae"), torch_dtype=torch.float32)
    te = CLIPTextModel.from_pretrained(str(starter_dir / "text_encoder"), torch_dtype=torch.float32)
    tok = CLIPTokenizer.from_pretrained(str(starter_dir / "tokenizer"))
    return vae.eval().requires_grad_(False), te.eval().requires_grad_(False), tok


def build_components(cfg: MotionConfig, seed: int, starter_dir: Path) -> MotionComponents:
    vae, te, tok = load_starter_parts(starter_dir)
    torch.manual_seed(seed)  # the trained parts start from the same weights on every (re)start
    return MotionComponents(vae, build_image_encoder(cfg), build_unet(cfg, vae.config.latent_channels), te, tok, cfg)


def clip_batch(cfg: MotionConfig, tcfg: MotionTrainConfig) -> Callable[[int], dict]:
    """Step -> frames (B, F, 3, H, W) in [-1, 1], masks (B, F, 1, H, W), strengths, directions, prompted."""

    def fn(step: int) -> dict:
        rng = random.Random(f"{tcfg.seed}-motion-{step}")
        w, h = sample_bucket(rng)
        specs = [sample_spec(rng, tcfg.prompt_prob) for _ in range(tcfg.batch_size)]
        clips = [render_clip(s.scene, w, h, rng, s.direction, s.strength, cfg.num_frames) for s in specs]
        frames = torch.from_numpy(np.stack([c.frames for c in clips])).permute(0, 1, 4, 2, 3).float() / 127.5 - 1
        return {
            "frames": frames,
            "masks": torch.from_numpy(np.stack([c.masks for c in clips]))[:, :, None],
            "strengths": [s.strength for s in specs],
            "directions": [s.direction for s in specs],
            "prompted": [s.prompted for s in specs],
        }

    return fn


def edm_loss(
    c: MotionComponents, batch: dict, tcfg: MotionTrainConfig, gen: torch.Generator, phrases: torch.Tensor
) -> torch.Tensor:
    """notes §3.2: x0-prediction through EulerDiscrete's v-prediction inversion, EDM weighting."""
    frames, b = batch["frames"], batch["frames"].shape[0]
    nf = frames.shape[1]
    scale = c.vae.config.scaling_factor
    with torch.no_grad():
        lat = c.vae.encode(frames.flatten(0, 1)).latent_dist.mean.float() * scale
        lat = lat.view(b, nf, *lat.shape[1:])
        aug = torch.exp(tcfg.cond_aug_mean + tcfg.cond_aug_std * torch.randn(b, generator=gen))
        first = frames[:, 0] + aug.view(b, 1, 1, 1) * torch.randn(frames[:, 0].shape, generator=gen)
        cond_lat = c.vae.encode(first).latent_dist.mode().float()  # unscaled, as the pipeline does
    emb = c.image_encoder(clip_pixels(frames[:, 0])).image_embeds[:, None]  # the clean frame, as the pipeline
    # prompted clips: the direction phrase's tokens; the others: copies of the image token (= the stock call)
    idx = torch.tensor([DIRECTION_NAMES.index(d) for d in batch["directions"]])
    prompted = torch.tensor(batch["prompted"]).view(b, 1, 1)
    tokens = torch.where(prompted, phrases[idx], emb.expand(-1, phrases.shape[1], -1))
    tokens = torch.cat([emb, tokens], dim=1)
    r = torch.rand(b, generator=gen)
    p = tcfg.cond_dropout
    tokens = tokens * (r >= 2 * p).float().view(b, 1, 1)
    cond_lat = cond_lat * ((r < p) | (r >= 3 * p)).float().view(b, 1, 1, 1)
    low = torch.rand(b, generator=gen) < tcfg.low_noise_share
    mean = torch.where(low, tcfg.low_p_mean, tcfg.p_mean)
    std = torch.where(low, tcfg.low_p_std, tcfg.p_std)
    sigma = torch.exp(mean + std * torch.randn(b, generator=gen)).view(b, 1, 1, 1, 1)
    noise = torch.randn(lat.shape, generator=gen)
    src = lat
    if tcfg.low_blur > 0:
        std = torch.rand(b, generator=gen) * tcfg.low_blur * low.float()  # high clips: std 0, no blur
        src = blur_latents(lat, std)
    noisy = src + sigma * noise
    inp = torch.cat([noisy / (sigma**2 + 1).sqrt(), cond_lat[:, None].expand(-1, nf, -1, -1, -1)], dim=2)
    ids = torch.tensor([[FPS - 1, bucket_id(s), float(a)] for s, a in zip(batch["strengths"], aug, strict=True)])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=tcfg.bf16):
        out = c.unet(inp, 0.25 * sigma.flatten().log(), tokens, ids).sample.float()
    c_skip, c_out = 1 / (sigma**2 + 1), -sigma / (sigma**2 + 1).sqrt()
    target = (lat - c_skip * noisy) / c_out  # loss on the raw output: EDM's weight (1+s^2)/s^2 folded in
    m = F.avg_pool2d(batch["masks"].flatten(0, 1), 2).view(b, nf, 1, *lat.shape[-2:])
    weight = 1 + tcfg.object_weight * torch.maximum(m, m[:, :1])
    return (weight * (out - target) ** 2).mean()


def blur_latents(lat: torch.Tensor, std: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """(B, F, C, H, W) latents, each clip blurred by a separable Gaussian of its std (latent pixels; 0 = as is).
    Edges replicate: the backgrounds are flat, so the border keeps its colour."""
    b, nf, ch, h, w = lat.shape
    x = torch.arange(-radius, radius + 1, dtype=lat.dtype)
    k = torch.exp(-0.5 * (x[None] / std.clamp(min=1e-3)[:, None]) ** 2)
    k = (k / k.sum(dim=1, keepdim=True)).repeat_interleave(nf * ch, dim=0)  # (B*F*C, 2r+1)
    y = lat.reshape(1, b * nf * ch, h, w)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="replicate"), k[:, None, None, :], groups=b * nf * ch)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="replicate"), k[:, None, :, None], groups=b * nf * ch)
    return y.view(b, nf, ch, h, w)


def lr_at(step: int, total: int, warmup: int, min_frac: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    p = (step - warmup) / max(1, total - warmup)
    return min_frac + (1 - min_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _save(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")  # write then rename: a kill mid-save never leaves a torn checkpoint
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(
    out_dir: Path,
    minutes: float = 60.0,
    seed: int = 0,
    threads: int | None = None,
    device: str = "cpu",
    tiny: bool = False,
    starter_dir: Path = STARTER_DIR,
    snapshot_every: int = 500,
    stop_after_s: float | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> Path | None:
    """Train (or resume) Starter Motion into out_dir; returns out_dir/model when finished, None when stopped by
    stop_after_s (rerun to continue). on_step(step) runs after each step (tests kill the run there)."""
    if threads:
        torch.set_num_threads(threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.json"
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())  # resume: the frozen plan wins over the arguments
    else:
        plan = make_plan(minutes, seed, tiny, device, overrides)
        plan_path.write_text(json.dumps(plan, indent=2))
    cfg, tcfg = MotionConfig.from_json(plan["config"]), MotionTrainConfig(**plan["train"])
    c = build_components(cfg, tcfg.seed, starter_dir)
    with torch.no_grad():
        phrases = encode_phrases(c.tokenizer, c.text_encoder, [DIRECTION_PHRASES[d] for d in DIRECTION_NAMES])
    params = [p for m in (c.unet, c.image_encoder) for p in m.parameters()]
    opt = torch.optim.AdamW(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay, fused=True)
    ema = [p.detach().clone() for p in params]
    ckpt, start = out_dir / "motion.pt", 0
    if ckpt.exists():
        st = torch.load(ckpt, map_location="cpu", weights_only=False)
        c.unet.load_state_dict(st["unet"])
        c.image_encoder.load_state_dict(st["image_encoder"])
        opt.load_state_dict(st["opt"])
        ema, start = st["ema"], st["step"]

    def save(step: int) -> None:
        state = {"unet": c.unet.state_dict(), "image_encoder": c.image_encoder.state_dict(), "opt": opt.state_dict()}
        _save({**state, "ema": ema, "step": step}, ckpt)

    def export(dest: Path) -> None:
        live = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, e in zip(params, ema, strict=True):
                p.copy_(e)
            save_motion(c, dest)
            for p, v in zip(params, live, strict=True):
                p.copy_(v)

    if tcfg.bf16:
        c.unet.set_attn_processor(AttnProcessor())  # the CPU flash kernel's bf16 backward is slow at these sizes
    batches = clip_batch(cfg, tcfg)
    deadline = time.time() + stop_after_s if stop_after_s else None
    bar = tqdm(total=tcfg.steps, initial=start, desc="motion", mininterval=2.0, disable=not progress)
    c.unet.train()
    c.image_encoder.train()
    for step in range(start, tcfg.steps):
        if deadline and time.time() > deadline:
            save(step)
            bar.close()
            return None
        for g in opt.param_groups:
            g["lr"] = tcfg.lr * lr_at(step, tcfg.steps, tcfg.warmup, tcfg.min_lr_frac)
        gen = torch.Generator().manual_seed(tcfg.seed * 1_000_003 + step)
        loss = edm_loss(c, batches(step), tcfg, gen, phrases)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, tcfg.grad_clip)
        opt.step()
        with torch.no_grad():
            d = min(tcfg.ema_decay, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - d)
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        done = step + 1
        if done % tcfg.checkpoint_every == 0 or done == tcfg.steps:
            save(done)
        if snapshot_every and done % snapshot_every == 0 and done < tcfg.steps:
            export(out_dir / "snapshots" / f"step-{done}")
        if on_step:
            on_step(done)
    bar.close()
    export(out_dir / "model")
    (out_dir / "done.json").write_text(json.dumps({"finished_at": time.time(), "steps": tcfg.steps}))
    return out_dir / "model"
