"""The Starter recipe: world batches, the time plan, and the resumable stage-by-stage run behind
`sfumato starter train`.

Output folder layout (DIR): plan.json (the frozen plan: a rerun resumes it), tokenizer/, vae.pt and
unet.pt (checkpoints), snapshots/step-N/ (EMA pipelines for evaluating while training goes on), model/
(the final pipeline folder, what gets shipped).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm
from transformers import CLIPTokenizer

from .model import Components, StarterConfig, build_text_encoder, build_unet, build_vae, save_pipeline
from .text_pretrain import pretrain_text_encoder
from .tokenizer import build_tokenizer, save_tokenizer
from .train import (
    UNetTrainConfig,
    VAETrainConfig,
    ema_components,
    refine_decoder,
    set_latent_scale,
    train_unet,
    train_vae,
)
from .world import caption, render, render_with_mask, sample_scene

# Why each setting is what it is: docs/starter-model.md, "How the recipe got here" (the measurements).

# VAE_SHARE of --minutes goes to the VAE. Nominal seconds per step, from the slowest 2-core CPU seen (bfloat16,
# two threads): they turn --minutes into a fixed step plan, so a (seed, minutes) trains the same steps anywhere
VAE_SHARE = 0.1875
VAE_STEP_S = 0.2
UNET_STEP_S = 0.61
# bfloat16 autocast in the VAE and UNet stages where the hardware has it (bf16_is_native): faster steps,
# and with the pooled caption no slower learning. Plans record it, so older plans resume as they were
BF16 = True
# VAE loss weight on the pixels around object outlines (train.VAETrainConfig.edge_weight) and its peak
# learning rate: the pair that keeps small stars through encode/decode
VAE_EDGE_WEIGHT = 20.0
VAE_LR = 3e-3
# Decoder refinement (encoder frozen): extra nominal time on top of --minutes. Off (it did not help shape);
# --decoder-steps N turns it on
DEC_SHARE = 0.0
DEC_STEP_S = 0.75
# UNet loss weight on object pixels (1 + w * mask), only at t < OBJECT_WEIGHT_MAX_T where the noisy input
# already shows where the objects are: objects are 5-15% of the pixels, and shape is decided on them
OBJECT_WEIGHT = 3.0
OBJECT_WEIGHT_MAX_T = 700
# Text-encoder warm start (text_pretrain.py): steps, and nominal seconds per step (batch 128)
TEXT_STEPS = 300
TEXT_STEP_S = 0.25
# Share of each UNet batch trained at the noisiest timesteps (where the layout is decided; see train.py):
# HIGH_NOISE_FRAC for the first HIGH_NOISE_EARLY_SHARE of the steps, then HIGH_NOISE_FRAC_LATE (position is
# learned by then; the samples go to the lower noise levels where shape is decided)
HIGH_NOISE_FRAC = 0.4
HIGH_NOISE_FRAC_LATE = 0.15
HIGH_NOISE_EARLY_SHARE = 1 / 3
# UNet peak learning rate, and how many times as likely a star is as each other shape in UNet batches
# (world.sample_scene): stars are the shape the UNet learns last
UNET_LR = 1e-3
STAR_WEIGHT = 2.0


def bf16_is_native(device: str) -> bool:
    """Whether bfloat16 math runs in hardware here (elsewhere it is emulated, slower than float32)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def to_tensor(imgs: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _bucket(cfg: StarterConfig, rng: random.Random) -> tuple[int, int]:
    return rng.choices(cfg.buckets, weights=cfg.bucket_probs)[0]


def _to(batch: torch.Tensor | tuple[torch.Tensor, ...], device: str) -> torch.Tensor | tuple[torch.Tensor, ...]:
    return tuple(t.to(device) for t in batch) if isinstance(batch, tuple) else batch.to(device)


def world_vae_batch(cfg: StarterConfig, seed: int, bs: int, full_bs: int, crop: int, with_mask: bool = False):
    """images in [-1, 1] (crops unless full), or (images, the objects' (B, 1, H, W) coverage mask)."""

    def fn(step: int, full: bool) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        rng = random.Random(f"{seed}-vae-{step}")
        w, h = _bucket(cfg, rng)
        pairs = []
        for _ in range(full_bs if full else bs):
            # render_with_mask draws the same rng values as render: the images do not depend on with_mask
            img, m = render_with_mask(sample_scene(rng, "train"), w, h, rng)
            if not full:
                # crops aligned to 8 px keep the encoder's stride grid the same as on whole frames
                x = rng.randrange(0, (w - crop) // 8 + 1) * 8
                y = rng.randrange(0, (h - crop) // 8 + 1) * 8
                img, m = img[y : y + crop, x : x + crop], m[y : y + crop, x : x + crop]
            pairs.append((img, m))
        images = to_tensor([img for img, _ in pairs])
        if not with_mask:
            return images
        return images, torch.from_numpy(np.stack([m for _, m in pairs]))[:, None]

    return fn


def world_unet_batch(cfg: StarterConfig, seed: int, bs: int, with_mask: bool = False, star_weight: float = 1.0):
    """(images, captions), plus the objects' (B, 1, H, W) coverage mask when with_mask (same images)."""

    def fn(step: int) -> tuple:
        rng = random.Random(f"{seed}-unet-{step}")
        w, h = _bucket(cfg, rng)
        scenes = [sample_scene(rng, "train", star_weight=star_weight) for _ in range(bs)]
        if not with_mask:
            return to_tensor([render(s, w, h, rng) for s in scenes]), [caption(s, rng) for s in scenes]
        pairs = [render_with_mask(s, w, h, rng) for s in scenes]
        images = to_tensor([im for im, _ in pairs])
        mask = torch.from_numpy(np.stack([m for _, m in pairs]))[:, None]
        return images, [caption(s, rng) for s in scenes], mask

    return fn


def world_full_batch(cfg: StarterConfig, seed: int, bs: int):
    def fn(step: int) -> torch.Tensor:
        rng = random.Random(f"{seed}-dec-{step}")
        w, h = _bucket(cfg, rng)
        return to_tensor([render(sample_scene(rng, "train"), w, h, rng) for _ in range(bs)])

    return fn


def make_plan(
    minutes: float, seed: int, tiny: bool = False, device: str = "cpu", overrides: Mapping[str, Any] | None = None
) -> dict:
    """Steps per stage from the nominal rates, and the recipe's choices. `overrides` replace any of them by
    plan key ("unet.lr", "vae.steps", "star_weight"; see set_in_plan) and are recorded like the rest."""
    cfg = StarterConfig.tiny() if tiny else StarterConfig()
    overrides = overrides or {}
    text_steps = 2 if tiny else TEXT_STEPS
    vae_steps = max(2, int(minutes * 60 * VAE_SHARE / VAE_STEP_S))
    unet_steps = _unet_steps(minutes, text_steps)
    bf16 = BF16 and bf16_is_native(device)
    vae = VAETrainConfig(steps=vae_steps, seed=seed, bf16=bf16, edge_weight=VAE_EDGE_WEIGHT, lr=VAE_LR)
    unet = UNetTrainConfig(
        steps=unet_steps,
        seed=seed,
        batch_size=64,
        lr=UNET_LR,
        object_weight=OBJECT_WEIGHT,
        object_weight_max_t=OBJECT_WEIGHT_MAX_T,
        high_noise_frac=HIGH_NOISE_FRAC,
        high_noise_frac_late=HIGH_NOISE_FRAC_LATE,
        bf16=bf16,
    )
    if tiny:
        vae.batch_size, vae.full_batch_size, vae.crop = 8, 4, 16
        unet.batch_size, unet.warmup = 8, 2
        vae.checkpoint_every = unet.checkpoint_every = 2
    plan = {
        "seed": seed,
        "minutes": minutes,
        "config": cfg.to_json(),
        "vae": asdict(vae),
        "unet": asdict(unet),
        "decoder_steps": decoder_steps(minutes, tiny),
        "text_steps": text_steps,
        "star_weight": STAR_WEIGHT,
    }
    for key, value in overrides.items():
        set_in_plan(plan, key, value)
    # what follows from the step counts, unless set too: the UNet's share of the time, and the step where
    # its high-noise share drops
    unet_plan = plan["unet"]
    if "unet.steps" not in overrides:
        unet_plan["steps"] = _unet_steps(minutes, plan["text_steps"])
    if "unet.high_noise_late_from" not in overrides:
        unet_plan["high_noise_late_from"] = round(unet_plan["steps"] * HIGH_NOISE_EARLY_SHARE)
    return plan


def _unet_steps(minutes: float, text_steps: int) -> int:
    unet_s = minutes * 60 * (1 - VAE_SHARE) - text_steps * TEXT_STEP_S
    return max(2, int(unet_s / UNET_STEP_S))


# Plan keys that overrides may not touch: seed and minutes have their own options, and the architecture
# is the recipe's (the engine and the shipped model card depend on it)
_FIXED_KEYS = ("seed", "minutes", "config")
# settings that only make sense above zero (a negative step count or learning rate trains nothing useful)
_POSITIVE_KEYS = (
    "vae.steps",
    "unet.steps",
    "vae.lr",
    "unet.lr",
    "unet.text_lr",
    "vae.batch_size",
    "unet.batch_size",
    "star_weight",
)


def set_in_plan(plan: dict, key: str, value: Any) -> None:
    """Set one plan setting: "vae.FIELD" or "unet.FIELD" (train.VAETrainConfig / UNetTrainConfig), or a
    top-level field such as "star_weight". The value must have the setting's type (an int for a float is
    fine); a wrong key or type is a ValueError that says what to pass instead."""
    stage, _, name = key.rpartition(".")
    section = plan if not stage else plan.get(stage) if stage in ("vae", "unet") else None
    if section is None or name not in section or key in _FIXED_KEYS:
        raise ValueError(f"{key!r} is not a plan setting; use one of: {', '.join(plan_keys(plan))}")
    old = section[name]
    if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not type(old):
        raise ValueError(f"{key} takes a {type(old).__name__} (now {old!r}), not {value!r}")
    if key in _POSITIVE_KEYS and value <= 0:
        raise ValueError(f"{key} must be above 0 (now {old!r}), not {value!r}")
    section[name] = value


def plan_keys(plan: dict) -> list[str]:
    top = [k for k, v in plan.items() if k not in _FIXED_KEYS and not isinstance(v, dict)]
    return top + [f"{stage}.{name}" for stage in ("vae", "unet") for name in plan[stage]]


def decoder_steps(minutes: float, tiny: bool = False) -> int:
    return 2 if tiny else int(minutes * 60 * DEC_SHARE / DEC_STEP_S)


def cfg_is_tiny(plan: dict) -> bool:
    return plan["config"]["text_hidden"] < 64


def decoder_stage(c: Components, out: Path, plan: dict, device: str, progress: bool, deadline: float | None) -> bool:
    """Refine the decoder on whole frames (encoder frozen): the latents stay the same, so the UNet stage
    does not depend on it."""
    steps = plan["decoder_steps"]
    if steps <= 0:
        return True
    dbatch = world_full_batch(c.cfg, plan["seed"], plan["vae"]["full_batch_size"])
    bar = _Bar("decoder", progress)
    ok = refine_decoder(c, lambda s: dbatch(s).to(device), steps, out / "decoder.pt", progress=bar, deadline=deadline)
    bar.close()
    return ok


def text_stage(c: Components, out: Path, plan: dict, progress: bool) -> None:
    """Warm-start the text encoder (a few minutes at most, so no mid-stage resume: a rerun redoes it from
    the seed, with the same result). Skipped when the UNet stage has begun: its checkpoint holds the encoder."""
    done = out / "text_done.pt"
    if done.exists():
        c.text_encoder.load_state_dict(torch.load(done, map_location="cpu", weights_only=True))
        return
    if plan["text_steps"] <= 0 or (out / "unet.pt").exists():
        return
    bar = _Bar("text", progress)
    pretrain_text_encoder(c.text_encoder, c.tokenizer, plan["text_steps"], seed=plan["seed"], progress=bar)
    bar.close()
    torch.save(c.text_encoder.state_dict(), done)


class _Bar:
    """One tqdm bar per stage, with the latest loss in the postfix."""

    def __init__(self, desc: str, enabled: bool) -> None:
        self.desc, self.enabled, self.bar = desc, enabled, None

    def __call__(self, step: int, total: int, metrics: dict) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, initial=step - 1, desc=self.desc, mininterval=2.0)
        self.bar.update(1)
        self.bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def run(
    out: Path,
    minutes: float = 60.0,
    seed: int = 0,
    device: str = "cpu",
    tiny: bool = False,
    snapshot_every: int = 500,
    stop_after_s: float | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> Path | None:
    """Train (or resume) the Starter model into `out`; returns out/model when finished, None when stopped
    by stop_after_s (rerun to continue)."""
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / "plan.json"
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())  # resume: the frozen plan wins over the arguments
    else:
        plan = make_plan(minutes, seed, tiny, device, overrides)
        plan_path.write_text(json.dumps(plan, indent=2))
    # plans written before the decoder stage existed get it with the same formula; before the text warm
    # start existed, none
    plan.setdefault("decoder_steps", decoder_steps(plan["minutes"], cfg_is_tiny(plan)))
    plan.setdefault("text_steps", 0)
    plan.setdefault("star_weight", 1.0)
    seed = plan["seed"]
    cfg = StarterConfig.from_json(plan["config"])
    vcfg, ucfg = VAETrainConfig(**plan["vae"]), UNetTrainConfig(**plan["unet"])
    deadline = time.time() + stop_after_s if stop_after_s else None
    torch.manual_seed(seed)
    random.seed(seed)
    t0 = time.time()

    if (out / "tokenizer" / "tokenizer.json").exists():
        tok = CLIPTokenizer.from_pretrained(str(out / "tokenizer"))  # resume: the exact same vocabulary
    else:
        tok = build_tokenizer(seed)
        save_tokenizer(tok, out / "tokenizer")
    # build all modules from the seed in a fixed order: identical initial weights on every (re)start
    c = Components(tok, build_text_encoder(cfg, tok), build_vae(cfg), build_unet(cfg), cfg)
    c.unet.to(device)
    c.text_encoder.to(device)
    c.vae.to(device)

    vae_done = out / "vae_done.pt"
    if vae_done.exists():
        st = torch.load(vae_done, map_location="cpu", weights_only=False)
        c.vae.load_state_dict(st["vae"])
        c.vae.register_to_config(scaling_factor=st["scale"])
    else:
        vbatch = world_vae_batch(
            cfg, seed, vcfg.batch_size, vcfg.full_batch_size, vcfg.crop, with_mask=vcfg.edge_weight > 0
        )
        bar = _Bar("vae", progress)
        finished = train_vae(c, lambda s, f: _to(vbatch(s, f), device), vcfg, out / "vae.pt", bar, deadline)
        bar.close()
        if not finished:
            return None
        probe = world_unet_batch(cfg, seed + 1, 256)(0)[0].to(device)
        scale = set_latent_scale(c, probe)
        torch.save({"vae": c.vae.state_dict(), "scale": scale}, vae_done)
    c.vae.eval()
    # decoder refinement before the UNet: it does not depend on it, and snapshots then show final pixels
    if not decoder_stage(c, out, plan, device, progress, deadline):
        return None

    text_stage(c, out, plan, progress)

    def export(dest: Path) -> None:
        """The shipped EMA weights at dest; with EMA probes in the plan, also each probe's weights and the
        raw ones beside it (dest-ema0.995, dest-raw), to compare decays on the same run."""
        save_pipeline(ema_components(c, out / "unet.pt", ucfg.train_text_encoder), dest)
        if ucfg.ema_probe_decays:
            variants = [(f"ema{d}", i) for i, d in enumerate(ucfg.ema_probe_decays)] + [("raw", -1)]
            for name, probe in variants:
                comps = ema_components(c, out / "unet.pt", ucfg.train_text_encoder, probe=probe)
                save_pipeline(comps, dest.with_name(f"{dest.name}-{name}"))

    def snapshot(step: int) -> None:
        if snapshot_every and step % snapshot_every == 0 and step < ucfg.steps:
            export(out / "snapshots" / f"step-{step}")

    ubatch = world_unet_batch(
        cfg, seed, ucfg.batch_size, with_mask=ucfg.object_weight > 0, star_weight=plan["star_weight"]
    )
    bar = _Bar("unet", progress)
    finished = train_unet(c, ubatch, ucfg, out / "unet.pt", bar, deadline, snapshot)
    bar.close()
    if not finished:
        return None
    export(out / "model")
    log = {"finished_at": time.time(), "last_session_s": time.time() - t0}
    (out / "done.json").write_text(json.dumps(log))
    return out / "model"
