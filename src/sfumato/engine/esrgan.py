"""ESRGAN (RRDBNet) upscalers from plain state dicts, without spandrel.

Why not spandrel: it imports torchvision when imported (its LaMa architecture), and the only torchvision
wheels pip can get for torch 2.13 on Linux are CUDA builds whose C++ ops link libtorch_cuda; on the CPU
torch wheel Sfumato pins, `import torchvision` then fails ("operator torchvision::nms does not exist").
RRDBNet is a few convolutions, so the ESRGAN family (ESRGAN, Real-ESRGAN x4plus/x2plus, the community
"4x-..." models) is built here from the keys of the file. Three key layouts are understood:

- BasicSR / Real-ESRGAN: conv_first, body.N.rdbK.convM, conv_body, conv_upK, conv_hr, conv_last
  (optionally wrapped in {"params_ema": ...} or {"params": ...}); 12 or 48 input channels mean the model
  pixel-unshuffles its input first (Real-ESRGAN's 2x and 1x models).
- The original ESRGAN repo: RRDB_trunk.N.RDBK.convM, trunk_conv, upconvK, HRconv.
- The old "model.N" sequential layout of the community models (model.0, model.1.sub.N.RDBK.convM.0, ...).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

_SLOPE = 0.2  # LeakyReLU slope of every ESRGAN


class _DenseBlock(nn.Module):
    """Residual dense block: five 3x3 convs, each seeing all earlier outputs."""

    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        for k in range(1, 5):
            self.add_module(f"conv{k}", nn.Conv2d(nf + (k - 1) * gc, gc, 3, 1, 1))
        self.conv5 = nn.Conv2d(nf + 4 * gc, nf, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for k in range(1, 5):
            feats.append(F.leaky_relu(getattr(self, f"conv{k}")(torch.cat(feats, 1)), _SLOPE))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class _RRDB(nn.Module):
    def __init__(self, nf: int, gc: int) -> None:
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = _DenseBlock(nf, gc), _DenseBlock(nf, gc), _DenseBlock(nf, gc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator. `unshuffle` > 1 packs the input's pixels into channels first (Real-ESRGAN 2x/1x);
    the output is `scale` = 2**num_upsample / unshuffle times the input."""

    def __init__(self, in_ch: int, out_ch: int, nf: int, gc: int, nb: int, num_upsample: int, unshuffle: int) -> None:
        super().__init__()
        self.unshuffle = unshuffle
        self.conv_first = nn.Conv2d(in_ch, nf, 3, 1, 1)
        self.body = nn.Sequential(*[_RRDB(nf, gc) for _ in range(nb)])
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.ups = nn.ModuleList([nn.Conv2d(nf, nf, 3, 1, 1) for _ in range(num_upsample)])
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv_last = nn.Conv2d(nf, out_ch, 3, 1, 1)
        self.scale = 2**num_upsample / unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for up in self.ups:
            feat = F.leaky_relu(up(F.interpolate(feat, scale_factor=2, mode="nearest")), _SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), _SLOPE))


def _canonical(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename any of the three layouts to RRDBNet's own names (above)."""
    if "model.0.weight" in state:  # old sequential layout: the tail's indices depend on the scale
        out: dict[str, torch.Tensor] = {}
        tail = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", k))})
        tail = [n for n in tail if n >= 2]  # model.0 is conv_first
        names = {n: f"ups.{i}" for i, n in enumerate(tail[:-2])} | {tail[-2]: "conv_hr", tail[-1]: "conv_last"}
        for key, value in state.items():
            if key.startswith("model.0."):
                out[key.replace("model.0.", "conv_first.")] = value
            elif m := re.fullmatch(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)", key):
                out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
            elif m := re.fullmatch(r"model\.1\.sub\.\d+\.(weight|bias)", key):
                out[f"conv_body.{m[1]}"] = value
            elif (m := re.fullmatch(r"model\.(\d+)\.(weight|bias)", key)) and int(m[1]) in names:
                out[f"{names[int(m[1])]}.{m[2]}"] = value
            else:
                out[key] = value  # left as is: load_state_dict names it in its error
        return out
    renamed = {}
    for key, value in state.items():
        key = key.replace("RRDB_trunk.", "body.").replace("trunk_conv.", "conv_body.").replace("HRconv.", "conv_hr.")
        key = re.sub(r"\.RDB(\d)\.", r".rdb\1.", key)
        key = re.sub(r"^(?:conv_up|upconv)(\d+)\.", lambda m: f"ups.{int(m[1]) - 1}.", key)
        renamed[key] = value
    return renamed


def unwrap(obj: object) -> dict[str, torch.Tensor]:
    """The tensor dict inside a checkpoint: {"params_ema": ...}, {"params": ...}, {"state_dict": ...} or
    itself, with DataParallel's "module." prefix dropped."""
    if isinstance(obj, dict):
        for wrapper in ("params_ema", "params", "state_dict"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("the file does not hold a state dict (a mapping of names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def build_rrdbnet(state: dict[str, torch.Tensor]) -> RRDBNet:
    """An RRDBNet shaped by `state` (already unwrapped) with its weights loaded; ValueError when `state` is not
    an ESRGAN (RRDBNet) state dict."""
    state = _canonical(state)
    needed = ("conv_first.weight", "body.0.rdb1.conv1.weight", "conv_last.weight")
    if any(k not in state for k in needed):
        sample = ", ".join(sorted(state)[:4])
        raise ValueError(
            f"not an ESRGAN (RRDBNet) state dict: expected conv_first / body.N.rdbK / conv_last "
            f"(or model.0 / model.1.sub...) keys, found {sample}, ..."
        )
    in_ch, nf = state["conv_first.weight"].shape[1], state["conv_first.weight"].shape[0]
    out_ch, gc = state["conv_last.weight"].shape[0], state["body.0.rdb1.conv1.weight"].shape[0]
    nb = 1 + max(int(m[1]) for k in state if (m := re.match(r"body\.(\d+)\.", k)))
    num_upsample = sum(1 for k in state if re.fullmatch(r"ups\.\d+\.weight", k))
    unshuffle = math.isqrt(in_ch // out_ch) if out_ch and in_ch % out_ch == 0 else 0
    if out_ch != 3 or unshuffle not in (1, 2, 4) or unshuffle * unshuffle * out_ch != in_ch:
        raise ValueError(
            f"only RGB ESRGAN models are supported (3 output channels, 3/12/48 input channels); "
            f"this one has {in_ch} in and {out_ch} out"
        )
    model = RRDBNet(in_ch, out_ch, nf, gc, nb, num_upsample, unshuffle)
    model.load_state_dict(state, strict=True)  # a RuntimeError naming missing/unexpected keys and shapes
    if model.scale < 1:
        raise ValueError(f"the model shrinks images ({model.scale}x); an upscaler must enlarge them")
    return model.eval()


def run_tiled(model: RRDBNet, pixels: torch.Tensor, tile: int = 192, pad: int = 16) -> torch.Tensor:
    """The model over (1, 3, H, W) in [0, 1], tile by tile with `pad` pixels of context on each side (a real
    ESRGAN on a whole 1024x1024 picture needs gigabytes of activations), the tiles' centres stitched. Each
    tile runs on the model's device; the result is assembled on the CPU."""
    scale = model.scale
    device = next(model.parameters()).device
    _, _, h, w = pixels.shape
    multiple = model.unshuffle  # pixel_unshuffle needs sides divisible by its factor
    out = torch.zeros(1, 3, round(h * scale), round(w * scale))
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(0, top - pad), max(0, left - pad)
            b0, r0 = min(h, bottom + pad), min(w, right + pad)
            patch = pixels[:, :, t0:b0, l0:r0]
            ph, pw = (-patch.shape[2]) % multiple, (-patch.shape[3]) % multiple
            if ph or pw:
                patch = F.pad(patch, (0, pw, 0, ph), mode="replicate")
            result = model(patch.to(device)).cpu()
            ys, xs = round((top - t0) * scale), round((left - l0) * scale)
            hh, ww = round((bottom - top) * scale), round((right - left) * scale)
            out[:, :, round(top * scale) : round(top * scale) + hh, round(left * scale) : round(left * scale) + ww] = (
                result[:, :, ys : ys + hh, xs : xs + ww]
            )
    return out
