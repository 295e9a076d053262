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


def build_tiny_depth_estimator(dest: Path, seed: int = 0) -> Path:
    """A tiny random Depth Anything (DINOv2 backbone) with its DPT image processor (56-pixel input), saved as
    the transformers folder an operator installs at `<depth ControlNet>/preprocessor/`."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
    from transformers.models.dpt.image_processing_pil_dpt import DPTImageProcessorPil

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=4, intermediate_size=37, image_size=56,
        patch_size=14, out_indices=[1, 2, 3, 4], reshape_hidden_states=False,
    )  # fmt: skip
    config = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=32, patch_size=14, neck_hidden_sizes=[16, 16, 16, 16],
        fusion_hidden_size=16, head_hidden_size=16,
    )  # fmt: skip
    model = DepthAnythingForDepthEstimation(config)
    with torch.no_grad():  # the head ends in a ReLU: a positive last bias keeps the random map from being all 0
        model.head.conv3.bias.fill_(0.5)
    model.save_pretrained(str(dest))
    DPTImageProcessorPil(
        size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14
    ).save_pretrained(str(dest))
    return dest


def build_tiny_pose_estimator(dest: Path, seed: int = 0) -> Path:
    """A tiny random ViTPose (64x48 input, 17 COCO heatmaps) whose heatmaps peak above the keypoint threshold,
    saved as the folder an operator installs at `<pose ControlNet>/preprocessor/`."""
    from transformers import VitPoseBackboneConfig, VitPoseConfig, VitPoseForPoseEstimation

    torch.manual_seed(seed)
    backbone = VitPoseBackboneConfig(image_size=[64, 48], patch_size=[8, 8], hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=37, out_indices=[2])  # fmt: skip
    model = VitPoseForPoseEstimation(VitPoseConfig(backbone_config=backbone, num_labels=17, scale_factor=4))
    with torch.no_grad():  # heatmap peaks well above the keypoint threshold, so random keypoints are drawn
        model.head.conv.weight.mul_(20.0)
        model.head.conv.bias.fill_(0.2)
    model.save_pretrained(str(dest))
    config = {
        "size": {"height": 64, "width": 48},
        "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225],
    }
    (dest / "preprocessor_config.json").write_text(
        json.dumps({"image_processor_type": "VitPoseImageProcessor", **config})
    )
    return dest
