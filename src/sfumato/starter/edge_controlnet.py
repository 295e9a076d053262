"""The Starter's edge ControlNet: trained by our own loop on the procedural world (a scene's edge map -> the
scene), shipped in diffusers format at models/starter-controlnet-edge/ so that "edge to image" works out of the
box.

The edge detector lives here, not in engine/: starter/ sits below engine/ (import contracts), and training and
serving must run the very same preprocessor (engine/preprocess.py re-exports `edge_map`). The ControlNet is
`ControlNetModel.from_unet` on the frozen Starter UNet, its conditioning embedding downsampling 2x (the Starter's
VAE factor, where SD's is 8x). Determinism and resume as in train.py: every batch, noise and timestep is a pure
function of (seed, step), and a checkpoint holds weights, optimiser, EMA and step.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from diffusers import ControlNetModel, StableDiffusionControlNetPipeline
from diffusers.models.attention_processor import AttnProcessor
from PIL import Image

from .model import StarterConfig, load_pipeline, train_scheduler
from .train import EMA, Progress, _atomic_save, _load, denoising_loss, encode_text, lr_at
from .world import Scene, canonical_caption, caption, heldout_scenes, render, sample_scene

# Canny hysteresis thresholds on each RGB channel's 0..255 values, the channels' edges OR-ed: a red shape on a
# green background of equal brightness still has an edge (a grey-level Canny misses it).
CANNY_LOW, CANNY_HIGH = 50, 120
MANIFEST = "sfumato_controlnet.json"  # beside config.json: what kind of guidance, for which base, how it trained
CONDITIONING_CHANNELS = (16, 32)  # 2 levels: 2x down, the Starter's latent grid


def edge_map(image: Image.Image | np.ndarray, low: int = CANNY_LOW, high: int = CANNY_HIGH) -> np.ndarray:
    """Canny edges of an RGB image: uint8 (H, W), 255 on an edge, 0 elsewhere."""
    arr = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)
    edges = np.zeros(arr.shape[:2], dtype=np.uint8)
    for ch in range(3):
        edges |= cv2.Canny(np.ascontiguousarray(arr[..., ch]), low, high, L2gradient=True)
    return edges


def edge_image(edges: np.ndarray) -> Image.Image:
    """An edge map as the RGB control image diffusers' ControlNet pipelines take (white lines on black)."""
    return Image.fromarray(np.repeat(edges[..., None], 3, axis=2), "RGB")


@dataclass
class EdgeTrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 5e-4
    warmup: int = 50
    ema_decay: float = 0.995
    cond_dropout: float = 0.3  # empty caption: the edges alone must carry the layout
    high_noise_frac: float = 0.3  # share of timesteps from 600..T, where the layout is decided
    snr_gamma: float = 5.0
    checkpoint_every: int = 50
    seed: int = 0
    threads: int = 1
    bf16: bool = False  # bfloat16 autocast for the forward passes where the CPU has it (weights stay float32)


def edge_batches(cfg: StarterConfig, seed: int, batch_size: int):
    """batch_fn(step) -> (images in [-1, 1], captions, control images (B, 3, H, W) in [0, 1]) from training
    scenes at one bucket per step."""

    def fn(step: int) -> tuple[torch.Tensor, list[str], torch.Tensor]:
        rng = random.Random(f"{seed}-edge-{step}")
        w, h = rng.choices(cfg.buckets, weights=cfg.bucket_probs)[0]
        scenes = [sample_scene(rng, "train") for _ in range(batch_size)]
        imgs = [render(s, w, h, rng) for s in scenes]
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        edges = torch.from_numpy(np.stack([edge_map(i) for i in imgs])).float() / 255.0
        return x, [caption(s, rng) for s in scenes], edges[:, None].expand(-1, 3, -1, -1).contiguous()

    return fn


def starter_config(model_dir: Path) -> StarterConfig:
    return StarterConfig.from_json(json.loads((model_dir / "starter_config.json").read_text()))


def train_edge_controlnet(
    model_dir: Path,
    out: Path,
    cfg: EdgeTrainConfig,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> bool:
    """Train an edge ControlNet for the Starter folder `model_dir`; the checkpoint is out/controlnet.pt (rerun
    to resume) and the finished ControlNet is written to out/model. False when stopped at the deadline."""
    torch.set_num_threads(cfg.threads)
    pipe = load_pipeline(model_dir)
    for m in (pipe.unet, pipe.vae, pipe.text_encoder):
        m.requires_grad_(False).eval()
    torch.manual_seed(cfg.seed)
    cn = ControlNetModel.from_unet(pipe.unet, conditioning_embedding_out_channels=CONDITIONING_CHANNELS)
    cn.train()
    if cfg.bf16:  # the CPU flash-attention kernel's bf16 backward is slow at these sizes (see train.py)
        pipe.unet.set_attn_processor(AttnProcessor())
        cn.set_attn_processor(AttnProcessor())
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16)
    opt = torch.optim.AdamW(cn.parameters(), lr=cfg.lr, weight_decay=0.0)
    ema = EMA(cn.parameters(), cfg.ema_decay)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "controlnet.pt"
    state, start = _load(ckpt), 0
    if state:
        cn.load_state_dict(state["controlnet"])
        opt.load_state_dict(state["opt"])
        ema.shadow, start = state["ema"], state["step"]

    def save(step: int) -> None:
        _atomic_save({"controlnet": cn.state_dict(), "opt": opt.state_dict(), "ema": ema.shadow, "step": step}, ckpt)

    sched = train_scheduler()
    alphas = sched.alphas_cumprod
    snr_all = alphas / (1 - alphas).clamp(min=1e-8)
    scale = pipe.vae.config.scaling_factor
    batches = edge_batches(starter_config(model_dir), cfg.seed, cfg.batch_size)
    for step in range(start, cfg.steps):
        if deadline and time.time() > deadline:
            save(step)
            return False
        for g in opt.param_groups:
            g["lr"] = cfg.lr * lr_at(step, cfg.steps, cfg.warmup, 0.1)
        images, captions, control = batches(step)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        drop = torch.rand(len(captions), generator=gen) < cfg.cond_dropout
        captions = ["" if d else c for d, c in zip(drop.tolist(), captions, strict=True)]
        with torch.no_grad(), autocast:
            lat = pipe.vae.encode(images).latent_dist.mean.float() * scale
            text = encode_text(pipe, captions)
        noise = torch.randn(lat.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (lat.shape[0],), generator=gen)
        n_high = round(cfg.high_noise_frac * len(t))
        t[:n_high] = torch.randint(600, sched.config.num_train_timesteps, (n_high,), generator=gen)
        noisy = sched.add_noise(lat, noise, t)
        with autocast:
            down, mid = cn(noisy, t, encoder_hidden_states=text, controlnet_cond=control, return_dict=False)
            pred = pipe.unet(
                noisy, t, text, down_block_additional_residuals=down, mid_block_additional_residual=mid
            ).sample.float()
        snr = snr_all[t]
        loss = denoising_loss(pred, sched.get_velocity(lat, noise, t), (snr + 1).clamp(max=cfg.snr_gamma) / (snr + 1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(cn.parameters(), 1.0)
        opt.step()
        ema.update(cn.parameters(), step)
        if progress:
            progress(step + 1, cfg.steps, {"loss": float(loss)})
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save(step + 1)
    ema.copy_to(cn.parameters())
    export(cn, out / "model", model_dir, cfg)
    return True


def export_checkpoint(model_dir: Path, out: Path, dest: Path, cfg: EdgeTrainConfig) -> int:
    """Write the EMA weights of out/controlnet.pt (a run stopped early, or resumed later) to `dest`; returns the
    step the checkpoint reached."""
    pipe = load_pipeline(model_dir)
    cn = ControlNetModel.from_unet(pipe.unet, conditioning_embedding_out_channels=CONDITIONING_CHANNELS)
    state = torch.load(out / "controlnet.pt", map_location="cpu", weights_only=False)
    cn.load_state_dict(state["controlnet"])
    with torch.no_grad():
        for shadow, p in zip(state["ema"], cn.parameters(), strict=True):
            p.copy_(shadow)
    export(cn, dest, model_dir, cfg, steps_done=state["step"])
    return int(state["step"])


def export(
    cn: ControlNetModel, dest: Path, model_dir: Path, cfg: EdgeTrainConfig, steps_done: int | None = None
) -> None:
    """diffusers format, fp16 safetensors, plus the manifest the server reads to know what it serves."""
    cn.to(torch.float16).save_pretrained(str(dest), safe_serialization=True)
    cn.to(torch.float32)
    base = json.loads((model_dir / "sfumato_model.json").read_text())
    manifest = {
        "kind": "edge",
        "preprocessor": "canny",
        "canny_thresholds": [CANNY_LOW, CANNY_HIGH],
        "base_model": base.get("name"),
        "sd_version": base.get("sd_version"),
        "trained_by": "sfumato.starter.edge_controlnet",
        "train_config": asdict(cfg),
        "steps_done": cfg.steps if steps_done is None else steps_done,
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


# --- evaluation -----------------------------------------------------------------------------------------


def edge_f_score(pred: np.ndarray, ref: np.ndarray, tolerance: int = 1) -> float:
    """F-score of two boolean edge maps where a pixel counts as matched within `tolerance` pixels."""
    k = np.ones((2 * tolerance + 1,) * 2, np.uint8)
    pred, ref = pred.astype(bool), ref.astype(bool)
    if not pred.any() or not ref.any():
        return 0.0
    precision = (pred & (cv2.dilate(ref.astype(np.uint8), k) > 0)).sum() / pred.sum()
    recall = (ref & (cv2.dilate(pred.astype(np.uint8), k) > 0)).sum() / ref.sum()
    return float(0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))


def unplaced_caption(scene: Scene) -> str:
    """The scene's caption without positions: colours and shapes from the prompt, the layout left to the edges."""
    return (
        " and ".join(f"a {o.size} {o.color} {o.shape}" for o in scene.objects) + f", on a {scene.background} background"
    )


def evaluate(
    model_dir: Path, controlnet_dir: Path, n: int = 24, steps: int = 20, seed: int = 0, placed: bool = False
) -> dict:
    """Held-out scenes: their edge maps -> images with the same prompt (without positions unless `placed`), with
    and without the ControlNet; the mean edge F-score (1-px tolerance) of each against the given edges."""
    pipe = load_pipeline(model_dir)
    cn = ControlNetModel.from_pretrained(str(controlnet_dir), torch_dtype=torch.float32)
    cpipe = StableDiffusionControlNetPipeline.from_pipe(pipe, controlnet=cn)
    cpipe.set_progress_bar_config(disable=True)
    w, h = starter_config(model_dir).width, starter_config(model_dir).height
    scores: dict[str, list[float]] = {"controlled": [], "uncontrolled": []}
    for i, scene in enumerate(heldout_scenes(n, seed=4321)):
        ref = edge_map(render(scene, w, h, random.Random(i)))
        prompt = canonical_caption(scene) if placed else unplaced_caption(scene)
        common = dict(prompt=prompt, width=w, height=h, num_inference_steps=steps, guidance_scale=5.0)
        with torch.inference_mode():
            a = cpipe(image=edge_image(ref), generator=torch.Generator().manual_seed(seed + i), **common).images[0]
            b = pipe(generator=torch.Generator().manual_seed(seed + i), **common).images[0]
        scores["controlled"].append(edge_f_score(edge_map(a) > 0, ref > 0))
        scores["uncontrolled"].append(edge_f_score(edge_map(b) > 0, ref > 0))
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()} | {"scenes": n, "steps": steps, "placed": placed}
