"""The Starter model's diffusers components, its scheduler settings and the pipeline folder format."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from . import STARTER_MODEL_NAME
from .tokenizer import MAX_LENGTH, save_tokenizer


@dataclass
class StarterConfig:
    """Sizes of every component. The defaults are the shipped model; tests use `tiny()`."""

    width: int = 32
    height: int = 32
    # aspect-ratio buckets (w, h); sides are multiples of 8 (the pipeline's rule) and at least 32, the
    # smallest size at which the renderer's small shapes stay distinguishable
    buckets: list[tuple[int, int]] = field(default_factory=lambda: [(32, 32), (40, 32), (32, 40)])
    bucket_probs: list[float] = field(default_factory=lambda: [0.5, 0.25, 0.25])
    # two blocks: 2x downsampling, 4 latent channels (a 2x2x3 patch of flat colour fits in 4 numbers); a 4x,
    # 8-channel autoencoder lost small shapes (docs/starter-model.md, "How the recipe got here")
    vae_channels: tuple[int, ...] = (32, 64)
    latent_channels: int = 4
    text_hidden: int = 128
    text_layers: int = 3
    # 16 -> 8 -> 4 -> 2 on the latent grid: the 2x2 bottleneck sees the whole frame (position)
    unet_channels: tuple[int, ...] = (32, 64, 128, 128)
    # levels with (self- and cross-) attention: 8x8 and 4x4 (plus the 2x2 mid block, always). None at 16x16:
    # it nearly doubles the training step, and position needs the steps (docs/starter-model.md)
    unet_attention_levels: tuple[int, ...] = (1, 2)
    unet_layers: int = 1
    unet_heads: int = 4
    # the caption, attention-pooled to one vector, added to the timestep embedding (diffusers'
    # addition_embed_type="text"): every ResNet block, the 16x16 ones without attention included, then
    # sees what the caption asks for
    unet_text_pool: bool = True
    recommended_steps: int = 20
    recommended_guidance: float = 5.0

    @staticmethod
    def tiny() -> StarterConfig:
        return StarterConfig(
            width=32,
            height=32,
            buckets=[(32, 32), (32, 16)],
            bucket_probs=[0.5, 0.5],
            vae_channels=(8, 16),
            text_hidden=32,
            text_layers=1,
            unet_channels=(16, 32),
            unet_attention_levels=(0,),
            unet_heads=2,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> StarterConfig:
        d = dict(d)
        d["buckets"] = [tuple(b) for b in d["buckets"]]
        # configs written before the field existed had attention at every level but the last
        d.setdefault("unet_attention_levels", list(range(len(d["unet_channels"]) - 1)))
        d.setdefault("unet_text_pool", False)  # and before the pooled caption existed, none
        for k in ("vae_channels", "unet_channels", "unet_attention_levels"):
            d[k] = tuple(d[k])
        return StarterConfig(**d)


# v-prediction + zero terminal SNR + trailing spacing: the spike's fix for position (the model must
# decide the layout from pure noise at t=T instead of leaking it from residual signal).
SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    beta_end=0.012,
    prediction_type="v_prediction",
    rescale_betas_zero_snr=True,
    timestep_spacing="trailing",
    steps_offset=1,
)


def train_scheduler() -> DDPMScheduler:
    return DDPMScheduler(**SCHEDULE, clip_sample=False)


def sample_scheduler() -> DPMSolverMultistepScheduler:
    # final_sigmas_type="zero" is required with zero-SNR; dpmsolver++ 2nd order is the recommended sampler
    return DPMSolverMultistepScheduler(
        **SCHEDULE, algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero"
    )


def build_vae(cfg: StarterConfig) -> AutoencoderKL:
    n = len(cfg.vae_channels)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * n,
        up_block_types=("UpDecoderBlock2D",) * n,
        block_out_channels=cfg.vae_channels,
        layers_per_block=1,
        latent_channels=cfg.latent_channels,
        norm_num_groups=8,
        sample_size=cfg.width,
        mid_block_add_attention=False,  # fully convolutional: trains on crops, works at any bucket
    )


def build_text_encoder(cfg: StarterConfig, tok: CLIPTokenizer) -> CLIPTextModel:
    conf = CLIPTextConfig(
        vocab_size=len(tok),
        hidden_size=cfg.text_hidden,
        intermediate_size=cfg.text_hidden * 4,
        num_hidden_layers=cfg.text_layers,
        num_attention_heads=4,
        max_position_embeddings=MAX_LENGTH,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        projection_dim=cfg.text_hidden,
    )
    return CLIPTextModel(conf)


def build_unet(cfg: StarterConfig) -> UNet2DConditionModel:
    n = len(cfg.unet_channels)
    # the mid block (the 2x2 bottleneck, which sees the whole frame) always attends; the levels above it
    # attend where cfg says
    attn = set(cfg.unet_attention_levels)
    down = tuple("CrossAttnDownBlock2D" if i in attn else "DownBlock2D" for i in range(n))
    up = tuple("CrossAttnUpBlock2D" if i in attn else "UpBlock2D" for i in reversed(range(n)))
    return UNet2DConditionModel(
        sample_size=cfg.width // 2 ** (len(cfg.vae_channels) - 1),
        in_channels=cfg.latent_channels,
        out_channels=cfg.latent_channels,
        down_block_types=down,
        up_block_types=up,
        block_out_channels=cfg.unet_channels,
        layers_per_block=cfg.unet_layers,
        cross_attention_dim=cfg.text_hidden,
        attention_head_dim=cfg.unet_heads,  # diffusers' legacy name: this is the number of heads
        norm_num_groups=16 if min(cfg.unet_channels) >= 16 else 8,
        addition_embed_type="text" if cfg.unet_text_pool else None,
        addition_embed_type_num_heads=cfg.unet_heads,
    )


@dataclass
class Components:
    tokenizer: CLIPTokenizer
    text_encoder: CLIPTextModel
    vae: AutoencoderKL
    unet: UNet2DConditionModel
    cfg: StarterConfig


def make_pipeline(c: Components) -> StableDiffusionPipeline:
    return StableDiffusionPipeline(
        vae=c.vae,
        text_encoder=c.text_encoder,
        tokenizer=c.tokenizer,
        unet=c.unet,
        scheduler=sample_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def model_info(cfg: StarterConfig) -> dict:
    return {
        "name": STARTER_MODEL_NAME,
        "native_width": cfg.width,
        "native_height": cfg.height,
        "buckets": [list(b) for b in cfg.buckets],
        "sd_version": "v1_5",
        "recommended_steps": cfg.recommended_steps,
        "recommended_guidance": cfg.recommended_guidance,
        "description": (
            "A tiny text-to-image model trained from scratch by Sfumato on a procedural world of flat shapes "
            "(circle, square, triangle, star, heart, diamond; 12 colours; 9 positions; small/large) on solid "
            "backgrounds. Renders at a small native bucket; the engine resizes to the requested size."
        ),
    }


def save_pipeline(c: Components, path: Path, fp16: bool = True) -> None:
    """Write a StableDiffusionPipeline folder plus sfumato_model.json. fp16 storage halves the size and
    loads fine with torch_dtype=torch.float32."""
    path.mkdir(parents=True, exist_ok=True)
    pipe = make_pipeline(c)
    if fp16:
        for m in (c.text_encoder, c.vae, c.unet):
            m.to(torch.float16)
    try:
        pipe.save_pretrained(str(path), safe_serialization=True)
    finally:
        if fp16:
            for m in (c.text_encoder, c.vae, c.unet):
                m.to(torch.float32)
    save_tokenizer(c.tokenizer, path / "tokenizer")
    (path / "sfumato_model.json").write_text(json.dumps(model_info(c.cfg), indent=2) + "\n")
    (path / "starter_config.json").write_text(json.dumps(c.cfg.to_json(), indent=2) + "\n")


def load_pipeline(path: Path, device: str = "cpu") -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline.from_pretrained(
        str(path), torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False, local_files_only=True
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def count_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
