"""A tiny random ControlNet for a model folder, built in code (as engine/tiny.py builds tiny pipelines): tests
install one where the engine looks (`<model>/controlnet/<kind>/`) to exercise the whole path with no download."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import ControlNetModel, UNet2DConditionModel


def build_tiny_controlnet(model_folder: Path, kind: str = "edge", seed: int = 0, zero_init: bool = False) -> Path:
    """ControlNetModel.from_unet on the folder's UNet, its conditioning embedding downsampling as much as the
    folder's VAE does; random (not zero) output convolutions unless `zero_init`, so it visibly steers."""
    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(str(model_folder / "unet"), local_files_only=True)
    vae_levels = len(json.loads((model_folder / "vae" / "config.json").read_text())["block_out_channels"])
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8,) * vae_levels)
    if not zero_init:
        with torch.no_grad():
            for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
                block.weight.normal_(0, 0.2)
            # the conditioning embedding ends in a zero conv and its biases swamp a mostly black control image:
            # scaled random weights, no biases, so the control image itself steers
            for conv in net.controlnet_cond_embedding.modules():
                if isinstance(conv, torch.nn.Conv2d):
                    conv.weight.normal_(0, 1.5 / conv.weight[0].numel() ** 0.5)
                    conv.bias.zero_()
    dest = model_folder / "controlnet" / kind
    net.save_pretrained(str(dest), safe_serialization=True)
    return dest
