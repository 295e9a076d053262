"""Tiny add-on models built in code, for tests and benchmarks of the operator-installed paths (no download):
an IP-Adapter for a tiny SD 1.5 folder, an ESRGAN (RRDBNet) state dict, and a TorchScript mask model.
Shapes, file formats and key names are those of the real ones; the weights are random or hand-set.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from sfumato.engine.esrgan import RRDBNet

IP_ADAPTER_FILE = "ip-adapter_tiny.safetensors"
_IP_TOKENS = 4  # the plain IP-Adapter projects one CLIP image embedding to 4 extra context tokens


def build_tiny_ip_adapter(model_folder: Path, seed: int = 0, embed_dim: int = 32) -> Path:
    """Write `<model_folder>/ip_adapter/` for the SD pipeline in `model_folder`: an IP-Adapter safetensors
    ("image_proj.*" and "ip_adapter.N.to_{k,v}_ip.weight" keys, N = 1, 3, 5... over the UNet's
    cross-attention processors, as diffusers numbers them) and a tiny CLIPVisionModelWithProjection in
    `image_encoder/`. Returns the ip_adapter folder."""
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    folder = Path(model_folder) / "ip_adapter"
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(Path(model_folder) / "unet")
    cross = unet.config.cross_attention_dim
    channels = list(unet.config.block_out_channels)

    def randn(*shape: int, std: float) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * std

    tensors = {
        "image_proj.proj.weight": randn(_IP_TOKENS * cross, embed_dim, std=0.2),
        "image_proj.proj.bias": torch.zeros(_IP_TOKENS * cross),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    key_id = 1
    for name in unet.attn_processors:  # the order diffusers walks when it loads the adapter
        if name.endswith("attn1.processor"):
            continue  # self-attention gets no image tokens
        if name.startswith("mid_block"):
            hidden = channels[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(channels))[int(name[len("up_blocks.")])]
        else:
            hidden = channels[int(name[len("down_blocks.")])]
        tensors[f"ip_adapter.{key_id}.to_k_ip.weight"] = randn(hidden, cross, std=0.3)
        tensors[f"ip_adapter.{key_id}.to_v_ip.weight"] = randn(hidden, cross, std=0.3)
        key_id += 2
    save_file(tensors, str(folder / IP_ADAPTER_FILE))
    torch.manual_seed(seed)
    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        projection_dim=embed_dim,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=32,
        patch_size=8,
        num_channels=3,
    )
    encoder = CLIPVisionModelWithProjection(config)
    encoder.save_pretrained(folder / "image_encoder", safe_serialization=True)
    return folder


def tiny_esrgan_state(
    num_upsample: int = 2, nf: int = 8, gc: int = 4, nb: int = 2, bias: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """A BasicSR-named RRDBNet state dict that upscales by nearest neighbour (2**num_upsample times) and adds
    `bias` (in 0..1 units) to every pixel: the first three feature channels carry the picture through, the
    dense blocks run on random weights but the trunk's last conv is zero, so they add nothing. Known output,
    every layer exercised."""
    torch.manual_seed(seed)
    model = RRDBNet(3, 3, nf, gc, nb, num_upsample, unshuffle=1)
    state = model.state_dict()

    def identity(out_ch: int, in_ch: int) -> torch.Tensor:
        w = torch.zeros(out_ch, in_ch, 3, 3)
        for c in range(3):
            w[c, c, 1, 1] = 1.0
        return w

    state["conv_first.weight"], state["conv_first.bias"] = identity(nf, 3), torch.zeros(nf)
    state["conv_body.weight"], state["conv_body.bias"] = torch.zeros(nf, nf, 3, 3), torch.zeros(nf)
    for i in range(num_upsample):
        state[f"ups.{i}.weight"], state[f"ups.{i}.bias"] = identity(nf, nf), torch.zeros(nf)
    state["conv_hr.weight"], state["conv_hr.bias"] = identity(nf, nf), torch.zeros(nf)
    state["conv_last.weight"], state["conv_last.bias"] = identity(3, nf), torch.full((3,), bias)
    return {_basicsr_name(k): v.clone() for k, v in state.items()}


def _basicsr_name(key: str) -> str:
    if key.startswith("ups."):
        index, rest = key[4:].split(".", 1)
        return f"conv_up{int(index) + 1}.{rest}"
    return key


def old_esrgan_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same weights under the old sequential "model.N" names of the community ESRGAN models."""
    n = sum(1 for k in state if k.startswith("conv_up") and k.endswith(".weight"))
    nb = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("body."))
    out = {}
    for key, value in state.items():
        name, param = key.rsplit(".", 1)
        if name == "conv_first":
            new = "model.0"
        elif name.startswith("body."):
            _, i, rdb, conv = name.split(".")
            new = f"model.1.sub.{i}.RDB{rdb[3:]}.{conv}.0"
        elif name == "conv_body":
            new = f"model.1.sub.{nb}"
        elif name.startswith("conv_up"):
            new = f"model.{3 * int(name[7:])}"
        else:
            new = f"model.{3 * n + 2}" if name == "conv_hr" else f"model.{3 * n + 4}"
        out[f"{new}.{param}"] = value
    return out


class _DiskMask(nn.Module):
    """A mask that ignores the picture: 1 inside a centred disk of `radius` (a fraction of the side), 0
    outside; as logits (+-10) when `logits`; with `channels` channels (1 is right, anything else is not)."""

    def __init__(self, radius: float, logits: bool, channels: int) -> None:
        super().__init__()
        self.radius, self.logits, self.channels = radius, logits, channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        ys = (torch.arange(h, dtype=torch.float32) + 0.5) / h - 0.5
        xs = (torch.arange(w, dtype=torch.float32) + 0.5) / w - 0.5
        inside = ((ys[:, None] ** 2 + xs[None, :] ** 2).sqrt() < self.radius).float()
        mask = inside * 20.0 - 10.0 if self.logits else inside
        return mask[None, None].expand(1, self.channels, h, w).contiguous()


def build_disk_mask_model(file: Path, radius: float = 0.3, logits: bool = True, channels: int = 1) -> Path:
    """Save a TorchScript salient-object stand-in whose mask is a centred disk (see _DiskMask)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; it is still what operators export
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(_DiskMask(radius, logits, channels)).save(str(file))
    return file
