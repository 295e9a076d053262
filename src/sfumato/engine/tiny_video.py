"""A tiny random Stable Video Diffusion pipeline built in code (diffusers' own test components), saved as a
diffusers folder: the operator's SVD path runs through the server on a CPU in a second, with no download."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLTemporalDecoder,
    EulerDiscreteScheduler,
    StableVideoDiffusionPipeline,
    UNetSpatioTemporalConditionModel,
)
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from sfumato.engine.video import MOTION_SETTINGS_FILE
from sfumato.starter.motion.clips import DIRECTION_PHRASES
from sfumato.starter.motion.model import SCHEDULER as SVD_SCHEDULER
from sfumato.starter.motion.model import TEXT_TOKENS

# The Starter's tokenizer (src/sfumato/engine/ -> the checkout's models/starter): direction words are one token.
STARTER_TOKENIZER = Path(__file__).resolve().parents[3] / "models" / "starter" / "tokenizer"
STARTER_TOKENIZER_VOCAB = 185


def build_tiny_svd(
    folder: Path,
    seed: int = 0,
    size: int = 32,
    frames: int = 4,
    steps: int = 2,
    follows_prompts: bool = False,
    buckets: tuple[tuple[int, int], ...] = (),
) -> Path:
    """Save a tiny SVD pipeline to `folder`, with a `sfumato_motion.json` naming its native size and frames.
    `follows_prompts` adds Starter Motion's prompt layout (a tiny text encoder, the Starter's tokenizer and the
    directions), so the image- and text-to-video path runs without the trained model."""
    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=size,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32,
        num_attention_heads=8,
        projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
        num_frames=frames,
    )
    scheduler = EulerDiscreteScheduler(**SVD_SCHEDULER)  # the real SVD schedule, as Starter Motion uses
    torch.manual_seed(seed)
    vae = AutoencoderKLTemporalDecoder(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        latent_channels=4,
    )
    torch.manual_seed(seed)
    encoder = CLIPVisionModelWithProjection(
        # PIL input always reaches the encoder at 224x224 (the pipeline resizes it): 7x7 patches of 32.
        CLIPVisionConfig(
            hidden_size=32,
            projection_dim=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=224,
            intermediate_size=37,
            patch_size=32,
        )
    )
    extractor = CLIPImageProcessor(crop_size=224, size=224)
    pipe = StableVideoDiffusionPipeline(
        vae=vae, image_encoder=encoder, unet=unet, scheduler=scheduler, feature_extractor=extractor
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    settings = {
        "native_width": size,
        "native_height": size,
        "num_frames": frames,
        "fps": 8,
        "recommended_steps": steps,
        "min_guidance_scale": 1.0,
        "max_guidance_scale": 1.0,
        "buckets": [list(b) for b in buckets],
    }
    if follows_prompts:
        torch.manual_seed(seed)
        text = CLIPTextConfig(
            vocab_size=STARTER_TOKENIZER_VOCAB,
            hidden_size=32,  # the UNet's cross_attention_dim: the phrase's tokens sit beside the image token
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=4,
            max_position_embeddings=TEXT_TOKENS,
            bos_token_id=0,  # the Starter tokenizer's ids
            eos_token_id=1,
            pad_token_id=1,
        )
        CLIPTextModel(text).save_pretrained(folder / "text_encoder", safe_serialization=True)
        shutil.copytree(STARTER_TOKENIZER, folder / "tokenizer", dirs_exist_ok=True)
        settings["directions"] = dict(DIRECTION_PHRASES)
    (folder / MOTION_SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
    return folder
