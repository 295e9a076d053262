"""Optional models an operator installs under DATA_DIR/addons/ (docs/images.md):

- upscaler/*.pth|*.pt|*.safetensors: an ESRGAN-family (RRDBNet) state dict, built by engine/esrgan.py;
- nobg/model.pt: a TorchScript salient-object model, (1, 3, S, S) ImageNet-normalised RGB in, a (1, 1, H, W)
  mask out (probabilities or logits); nobg/config.json may set {"size": S, "mean": [...], "std": [...]}.

A loaded add-on is kept until its file changes (keyed by path, size and mtime), so an operator can swap it
without a restart. Anything wrong with an installed add-on raises AddonError naming the file and the
problem (the job then fails with that reason).
"""

from __future__ import annotations

import json
import pickle
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from sfumato.engine.esrgan import RRDBNet, build_rrdbnet, run_tiled, unwrap
from sfumato.engine.types import AddonError

UPSCALER_DIR = "upscaler"
NOBG_DIR = "nobg"
NOBG_MODEL = "model.pt"
_UPSCALER_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt")
_IMAGENET_MEAN, _IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

_lock = threading.Lock()  # guards _loaded; two jobs may ask for the same add-on at once
_loaded: dict[str, tuple[tuple[str, int, int, str], Any]] = {}  # kind -> ((path, size, mtime_ns, device), model)


def shown(file: Path) -> str:
    """The add-on's path as the operator knows it (addons/<kind>/<file>), for messages."""
    return f"addons/{file.parent.name}/{file.name}"


def upscaler_file(addons: Path | None) -> Path | None:
    """The installed upscaler (the first weights file by name), or None."""
    folder = addons / UPSCALER_DIR if addons else None
    if folder is None or not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _UPSCALER_SUFFIXES)
    return files[0] if files else None


def nobg_file(addons: Path | None) -> Path | None:
    file = addons / NOBG_DIR / NOBG_MODEL if addons else None
    return file if file is not None and file.is_file() else None


def _cached(kind: str, file: Path, device: str, load: Any) -> Any:
    stat = file.stat()
    signature = (str(file), stat.st_size, stat.st_mtime_ns, device)
    with _lock:
        hit = _loaded.get(kind)
        if hit is None or hit[0] != signature:
            hit = (signature, load(file, device))
            _loaded[kind] = hit
        return hit[1]


def _short(exc: BaseException) -> str:
    """The first sentence of an exception's message (torch's run to paragraphs of advice)."""
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return text.split(". ")[0].rstrip(".")[:200]


def _read_checkpoint(file: Path) -> object:
    def unreadable(reason: str) -> AddonError:
        return AddonError(
            f"the upscaler {shown(file)} could not be read: {reason}; install an ESRGAN state dict "
            "as .pth or .safetensors"
        )

    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file), device="cpu")
        # weights_only: a .pth is a pickle, and a pickle can run code; tensors and dicts are all we need.
        return torch.load(str(file), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise unreadable(
                f"it holds a pickled {found[1]} object, not only tensors, and is refused unopened "
                "(unpickling objects can run code); save its state_dict()"
            ) from exc
        raise unreadable("it is not a PyTorch checkpoint (damaged, or another format)") from exc
    except Exception as exc:
        raise unreadable(_short(exc)) from exc


def _load_upscaler(file: Path, device: str) -> RRDBNet:
    raw = _read_checkpoint(file)
    try:
        return build_rrdbnet(unwrap(raw)).to(device)
    except (ValueError, RuntimeError) as exc:
        raise AddonError(f"the upscaler {shown(file)} is not a usable ESRGAN model: {exc}") from exc


def esrgan_upscale(image: Image.Image, file: Path, device: str = "cpu") -> Image.Image:
    """The picture through the installed ESRGAN (on `device`), at the model's own scale."""
    model: RRDBNet = _cached("upscaler", file, device, _load_upscaler)
    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.inference_mode():
        out = run_tiled(model, pixels)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return Image.fromarray(np.round(out * 255).astype(np.uint8), "RGB")


class _Salient:
    def __init__(self, module: Any, size: int, mean: list[float], std: list[float], device: str) -> None:
        self.module, self.size, self.device = module, size, device
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)


def _load_salient(file: Path, device: str) -> _Salient:
    config_file = file.parent / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        size = int(config.get("size", 1024))
        mean = [float(v) for v in config.get("mean", _IMAGENET_MEAN)]
        std = [float(v) for v in config.get("std", _IMAGENET_STD)]
        if not 16 <= size <= 4096 or len(mean) != 3 or len(std) != 3:
            raise ValueError('expected {"size": 16..4096, "mean": [r, g, b], "std": [r, g, b]}')
    except (ValueError, TypeError, AttributeError) as exc:
        raise AddonError(f"{shown(config_file)} is not valid: {exc}") from exc
    try:
        module = torch.jit.load(str(file), map_location=device).eval()
    except Exception as exc:
        raise AddonError(
            f"the background-removal model {shown(file)} could not be loaded as TorchScript "
            f"({_short(exc)}); export it with torch.jit.trace or torch.jit.script"
        ) from exc
    return _Salient(module, size, mean, std, device)


def salient_alpha(rgb: Image.Image, file: Path, device: str = "cpu") -> Image.Image:
    """The installed model's mask for `rgb` (run on `device`), as an L image of `rgb`'s size (0 background,
    255 subject)."""
    model: _Salient = _cached("nobg", file, device, _load_salient)
    x = torch.from_numpy(np.asarray(rgb.resize((model.size, model.size), Image.Resampling.BILINEAR), np.float32))
    x = ((x / 255.0).permute(2, 0, 1)[None] - model.mean) / model.std
    try:
        with torch.inference_mode():
            out = model.module(x.to(model.device))
    except Exception as exc:
        raise AddonError(
            f"the background-removal model {shown(file)} failed on a (1, 3, {model.size}, "
            f"{model.size}) input: {type(exc).__name__}: {exc}"
        ) from exc
    out = out[0] if isinstance(out, (list, tuple)) and out else out
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or out.numel() != out.shape[-1] * out.shape[-2]:
        raise AddonError(
            f"the background-removal model {shown(file)} returned {shape}; it must return one mask, shaped (1, 1, H, W)"
        )
    mask = out.reshape(out.shape[-2], out.shape[-1]).float().cpu()
    if not torch.isfinite(mask).all():
        raise AddonError(f"the background-removal model {shown(file)} returned NaN or infinite values")
    if mask.min() < 0 or mask.max() > 1:  # logits
        mask = mask.sigmoid()
    img = Image.fromarray(np.round(mask.numpy() * 255).astype(np.uint8), "L")
    return img.resize(rgb.size, Image.Resampling.BILINEAR)
