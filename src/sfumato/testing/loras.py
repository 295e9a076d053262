"""LoRA files for tests and benchmarks: random (every weight non-zero, so the effect is visible at once) on a
diffusers Stable Diffusion folder, in the format elements are stored in."""

from __future__ import annotations

from pathlib import Path

import torch

WEIGHTS_NAME = "pytorch_lora_weights.safetensors"


def random_lora(model_dir: Path, out_dir: Path, seed: int = 0, rank: int = 4, scale: float = 0.5) -> Path:
    """A rank-`rank` UNet LoRA on the attention projections with random A and B (scaled by `scale`)."""
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(model_dir / "unet")
    config = LoraConfig(
        r=rank, lora_alpha=rank, init_lora_weights=False, target_modules=["to_k", "to_q", "to_v", "to_out.0"]
    )
    unet.add_adapter(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in unet.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    out_dir.mkdir(parents=True, exist_ok=True)
    StableDiffusionPipeline.save_lora_weights(str(out_dir), unet_lora_layers=layers, safe_serialization=True)
    return out_dir / WEIGHTS_NAME
