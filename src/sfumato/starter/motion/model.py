"""Starter Motion's diffusers components, the folder format and the prompt-aware pipeline.

The folder is a stock `StableVideoDiffusionPipeline` (model_index.json lists vae, image_encoder, unet,
scheduler, feature_extractor), so `DiffusionPipeline.from_pretrained(folder)` loads it. Beside them, not in
model_index.json (the stock class never sees them): text_encoder/ and tokenizer/, the Starter's own (frozen),
which `MotionPipeline` appends as extra cross-attention tokens when a prompt names a direction.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerDiscreteScheduler,
    StableVideoDiffusionPipeline,
    UNetSpatioTemporalConditionModel,
)
from diffusers.pipelines.stable_video_diffusion.pipeline_stable_video_diffusion import _resize_with_antialiasing
from transformers import (
    CLIPImageProcessor,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from .clips import BUCKETS, DIRECTION_PHRASES, FPS, NUM_FRAMES, SPEED, bucket_id
from .prompt import direction_from_prompt

MOTION_MODEL_NAME = "Sfumato Starter Motion"
TEXT_TOKENS = 6  # BOS, up to two direction words, EOS and padding: the phrase's cross-attention tokens
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# notes §2.3: the real SVD sampling schedule (Karras sigmas, EDM c_noise timesteps, v-prediction)
SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    interpolation_type="linear",
    num_train_timesteps=1000,
    prediction_type="v_prediction",
    sigma_max=700.0,
    sigma_min=0.002,
    steps_offset=1,
    timestep_spacing="leading",
    timestep_type="continuous",
    use_karras_sigmas=True,
)


@dataclass
class MotionConfig:
    """Sizes of the trained parts. The defaults are the notes' "S" UNet made 64 wide at the first level and 96
    at the last (6.05 M params); tests use `tiny()`."""

    # 16 -> 8 -> 4 on the latent grid, attention (spatial + temporal, cross-attention to the image and
    # text tokens) at 8x8 and 4x4, where the whole frame is in view: the direction rule is a global one.
    # Multiples of 32: the blocks hard-code 32 norm groups. The first level must be at least 64 wide: the
    # UNet's last layers are GroupNorm(32, channels[0]) -> SiLU -> conv_out, and at 32 channels that norm is
    # one channel per group, an instance norm that erases every channel's per-frame level (a flat background
    # colour, the copy of frame 0). At 32 the model could not even overfit one fixed batch (docs, diagnosis).
    unet_channels: tuple[int, ...] = (64, 64, 96)
    unet_blocks: tuple[str, ...] = ("Down", "CrossAttn", "CrossAttn")
    unet_heads: tuple[int, ...] = (1, 2, 4)
    # resnets per level on the way down (the way up has one more), diffusers' layers_per_block as a tuple
    unet_layers: tuple[int, ...] = (1, 1, 1)
    cross_dim: int = 128  # = the Starter text encoder's hidden size
    time_embed_dim: int = 32
    vision_hidden: int = 64
    vision_layers: int = 2
    num_frames: int = NUM_FRAMES
    # two Euler steps: 700 -> sample_sigma_min (the x0 regression re-noised to that level), then to 0
    recommended_steps: int = 2
    # The saved scheduler's sigma_min. With Karras sigmas, N steps run from 700 down to it, then 0: 2 steps are
    # [700, sample_sigma_min, 0], the x0 regression then one denoising step at that level (the stock SVD 0.002
    # would make the second step a no-op). 1 step is [700, 0] whatever it is. 0.5 (inside the recipe's low band
    # lognormal(0, 0.5)) beat 1.0 on the session-15 weights: 24 scenes, frame 0 97.2% vs 95.8%, 1<5<10 54% vs 46%
    sample_sigma_min: float = 0.5
    recommended_guidance: float = 1.0  # max_guidance_scale; <= 1 turns CFG off (half the cost)

    @staticmethod
    def tiny() -> MotionConfig:
        return MotionConfig(
            unet_channels=(32, 32),
            unet_blocks=("Down", "CrossAttn"),
            unet_heads=(1, 1),
            unet_layers=(1, 1),
            cross_dim=128,  # the Starter text encoder's hidden size (tests reuse the shipped one)
            time_embed_dim=8,
            vision_hidden=32,
            vision_layers=1,
            num_frames=4,
        )

    def to_json(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_json(d: dict) -> MotionConfig:
        d = dict(d)
        for k in ("unet_channels", "unet_blocks", "unet_heads", "unet_layers"):
            if k in d:  # folders saved before a field existed take its default
                d[k] = tuple(d[k])
        return MotionConfig(**d)


def build_unet(cfg: MotionConfig, latent_channels: int = 4) -> UNetSpatioTemporalConditionModel:
    down = tuple(
        "CrossAttnDownBlockSpatioTemporal" if b == "CrossAttn" else "DownBlockSpatioTemporal" for b in cfg.unet_blocks
    )
    up = tuple(
        "CrossAttnUpBlockSpatioTemporal" if b == "CrossAttn" else "UpBlockSpatioTemporal" for b in cfg.unet_blocks
    )
    return UNetSpatioTemporalConditionModel(
        sample_size=16,
        in_channels=2 * latent_channels,  # noisy latents + the conditioning frame's latent
        out_channels=latent_channels,
        down_block_types=down,
        up_block_types=tuple(reversed(up)),
        block_out_channels=cfg.unet_channels,
        layers_per_block=cfg.unet_layers,
        cross_attention_dim=cfg.cross_dim,
        num_attention_heads=cfg.unet_heads,
        addition_time_embed_dim=cfg.time_embed_dim,
        projection_class_embeddings_input_dim=3 * cfg.time_embed_dim,
        num_frames=cfg.num_frames,
    )


def build_image_encoder(cfg: MotionConfig) -> CLIPVisionModelWithProjection:
    # the pipeline resizes PIL inputs to 224x224; 32-px patches keep that to 49 tokens
    conf = CLIPVisionConfig(
        hidden_size=cfg.vision_hidden,
        intermediate_size=2 * cfg.vision_hidden,
        num_hidden_layers=cfg.vision_layers,
        num_attention_heads=2,
        image_size=224,
        patch_size=32,
        projection_dim=cfg.cross_dim,
    )
    return CLIPVisionModelWithProjection(conf)


def feature_extractor() -> CLIPImageProcessor:
    return CLIPImageProcessor(size=224, crop_size=224, image_mean=CLIP_MEAN, image_std=CLIP_STD)


def sample_scheduler(sigma_min: float = SCHEDULER["sigma_min"]) -> EulerDiscreteScheduler:
    return EulerDiscreteScheduler(**{**SCHEDULER, "sigma_min": sigma_min})


def clip_pixels(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [-1, 1] -> the image encoder's input, exactly as the pipeline prepares a PIL image."""
    x = (_resize_with_antialiasing(images, (224, 224)) + 1.0) / 2.0
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def encode_phrases(tok: CLIPTokenizer, text_encoder: CLIPTextModel, phrases: list[str]) -> torch.Tensor:
    """(B, TEXT_TOKENS, hidden) last hidden states of the direction phrases."""
    ids = tok(phrases, padding="max_length", max_length=TEXT_TOKENS, truncation=True, return_tensors="pt").input_ids
    device = next(text_encoder.parameters()).device
    return text_encoder(ids.to(device)).last_hidden_state


@dataclass
class MotionComponents:
    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection
    unet: UNetSpatioTemporalConditionModel
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    cfg: MotionConfig = field(default_factory=MotionConfig)


def model_info(cfg: MotionConfig) -> dict[str, Any]:
    """sfumato_motion.json: what the engine needs to drive the folder."""
    return {
        "name": MOTION_MODEL_NAME,
        "native_width": 32,
        "native_height": 32,
        "buckets": [list(b) for b in BUCKETS],
        "num_frames": cfg.num_frames,
        "fps": FPS,
        "motion_strength": {
            "default": 5,
            "range": [1, 10],
            "formula": "motion_bucket_id = clamp(round(127 * s / 5), 1, 255)",
            "motion_bucket_id": {str(s): bucket_id(s) for s in range(1, 11)},
            "pixels_per_frame_at_32px": SPEED,
        },
        "noise_aug_strength": 0.02,
        "recommended_steps": cfg.recommended_steps,
        "recommended_guidance": {"min_guidance_scale": 1.0, "max_guidance_scale": cfg.recommended_guidance},
        "directions": dict(DIRECTION_PHRASES),
        "text_tokens": TEXT_TOKENS,
        "implied_direction": "away from the nearest edge (docs/starter-motion.md); a centred object moves right",
        "description": (
            "A tiny SVD-format image-to-video model trained from scratch by Sfumato on procedural clips of the "
            "Starter's world: the objects slide in a straight line at a speed set by motionStrength."
        ),
    }


def save_motion(c: MotionComponents, path: Path, fp16: bool = True) -> None:
    """Write the pipeline folder (fp16 safetensors), text_encoder/ + tokenizer/ and sfumato_motion.json."""
    path.mkdir(parents=True, exist_ok=True)
    pipe = StableVideoDiffusionPipeline(
        vae=c.vae,
        image_encoder=c.image_encoder,
        unet=c.unet,
        scheduler=sample_scheduler(c.cfg.sample_sigma_min),
        feature_extractor=feature_extractor(),
    )
    modules = (c.vae, c.image_encoder, c.unet, c.text_encoder)
    dtypes = [next(m.parameters()).dtype for m in modules]
    try:
        if fp16:
            for m in modules:
                m.to(torch.float16)
        pipe.save_pretrained(str(path), safe_serialization=True)
        c.text_encoder.save_pretrained(str(path / "text_encoder"), safe_serialization=True)
    finally:
        for m, dt in zip(modules, dtypes, strict=True):
            m.to(dt)
    if (path / "tokenizer").exists():
        shutil.rmtree(path / "tokenizer")
    c.tokenizer.save_pretrained(str(path / "tokenizer"))
    (path / "sfumato_motion.json").write_text(json.dumps(model_info(c.cfg), indent=2) + "\n")
    (path / "motion_config.json").write_text(json.dumps(c.cfg.to_json(), indent=2) + "\n")


class MotionPipeline(StableVideoDiffusionPipeline):
    """The stock pipeline plus an optional `direction` (a canonical name, clips.DIRECTIONS) or `prompt`
    (parsed by prompt.direction_from_prompt): its phrase's Starter text hidden states are appended to the
    image token. Without one it is the stock pipeline (the text slots would be copies of the image token,
    which attention cannot tell from the one token)."""

    text_encoder: CLIPTextModel | None = None
    tokenizer: CLIPTokenizer | None = None
    _direction: str | None = None

    @classmethod
    def load(cls, path: Path, device: str = "cpu", dtype: torch.dtype = torch.float32) -> MotionPipeline:
        pipe = cls.from_pretrained(str(path), dtype=dtype, local_files_only=True)
        pipe.text_encoder = CLIPTextModel.from_pretrained(str(path / "text_encoder"), dtype=dtype).to(device)
        pipe.tokenizer = CLIPTokenizer.from_pretrained(str(path / "tokenizer"))
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(device)

    def __call__(
        self, image: Any, *args: Any, direction: str | None = None, prompt: str | None = None, **kw: Any
    ) -> Any:
        if direction is not None and direction not in DIRECTION_PHRASES:
            raise ValueError(f"direction {direction!r}: use one of {', '.join(DIRECTION_PHRASES)}")
        self._direction = direction or (direction_from_prompt(prompt) if prompt else None)
        try:
            return super().__call__(image, *args, **kw)
        finally:
            self._direction = None

    def _encode_image(
        self, image: Any, device: Any, num_videos_per_prompt: int, do_classifier_free_guidance: bool
    ) -> torch.Tensor:
        emb = super()._encode_image(image, device, 1, False)  # (B, 1, D)
        if self._direction is not None and self.text_encoder is not None and self.tokenizer is not None:
            with torch.no_grad():
                text = encode_phrases(self.tokenizer, self.text_encoder, [DIRECTION_PHRASES[self._direction]])
            emb = torch.cat([emb, text.to(emb.dtype).expand(emb.shape[0], -1, -1)], dim=1)
        emb = emb.repeat_interleave(num_videos_per_prompt, dim=0)
        if do_classifier_free_guidance:
            emb = torch.cat([torch.zeros_like(emb), emb])
        return emb
