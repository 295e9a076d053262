"""ControlNet pipelines derived from a cached text-to-image pipeline (`from_pipe`: the UNet, VAE and text encoder
are shared, only the ControlNet weights are loaded), and the preprocessors that turn a user's picture into a
control image.

The preprocessor runs at the size the pipeline renders at (a model's native bucket), so the control image and
the latent grid agree. A picture that already is an edge map (white lines on black, as a canvas sketch tool
or another preprocessor makes) is used as it is instead of having its lines' two sides traced again.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, ControlNetModel, DiffusionPipeline
from PIL import Image

from sfumato.engine.control import ControlInput, estimator_folder
from sfumato.engine.control_estimators import depth_map, pose_map
from sfumato.engine.load_lock import LOAD_LOCK
from sfumato.engine.types import AddonError
from sfumato.starter.edge_controlnet import edge_image, edge_map

_lock = threading.Lock()
# ControlNet weights per folder, and derived pipelines per cached pipeline (gone when the LRU evicts it).
_models: dict[tuple[Path, torch.dtype, str], ControlNetModel] = {}
_derived: weakref.WeakKeyDictionary[DiffusionPipeline, dict[tuple, DiffusionPipeline]] = weakref.WeakKeyDictionary()


def load_controlnet(folder: Path, dtype: torch.dtype, device: str) -> ControlNetModel:
    key = (folder.resolve(), dtype, device)
    with _lock:
        if key not in _models:
            try:
                with LOAD_LOCK:
                    model = ControlNetModel.from_pretrained(str(folder), torch_dtype=dtype, local_files_only=True)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise AddonError(
                    f"the ControlNet {folder.name}/ could not be loaded: {type(exc).__name__}: {exc}"
                ) from exc
            _models[key] = model.to(device).eval()
        return _models[key]


def _device_of(folder: Path) -> str:
    """Where the ControlNet of `folder` runs (control_pipe loaded it): its estimator runs there too."""
    with _lock:
        return next((device for (path, _, device) in _models if path == folder.resolve()), "cpu")


def control_pipe(pipe: DiffusionPipeline, folders: list[Path], img2img: bool) -> DiffusionPipeline:
    """The ControlNet (image-to-image when `img2img`) pipeline sharing `pipe`'s modules, with the ControlNets
    of `folders` (several: diffusers' MultiControlNetModel, one control image each)."""
    key = ("img2img" if img2img else "txt2img", *(f.resolve() for f in folders))
    table = _derived.setdefault(pipe, {})
    if key not in table:
        unet = pipe.unet
        nets = [load_controlnet(f, unet.dtype, str(unet.device)) for f in folders]
        factory = AutoPipelineForImage2Image if img2img else AutoPipelineForText2Image
        derived = factory.from_pipe(pipe, controlnet=nets[0] if len(nets) == 1 else nets)
        derived.set_progress_bar_config(disable=True)
        table[key] = derived
    return table[key]


def looks_like_edge_map(arr: np.ndarray) -> bool:
    """Mostly black with a few bright, nearly grey-free pixels: lines already drawn, not a picture."""
    grey = arr.astype(np.float32).mean(axis=2)
    bright, mid = (grey > 200).mean(), ((grey > 40) & (grey <= 200)).mean()
    spread = np.abs(arr.astype(np.float32) - grey[..., None]).mean()
    return bool(bright < 0.3 and mid < 0.05 and spread < 10)


def control_image(control: ControlInput, width: int, height: int) -> Image.Image:
    """The control image for `control` at the render size."""
    if control.ready:
        return control.image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    if control.kind in ("depth", "pose"):
        folder = estimator_folder(control.folder)
        if not (folder / "config.json").is_file():  # removed after the request was accepted
            raise AddonError(f"the {control.kind} estimator ({control.folder.name}/preprocessor/) was removed")
        make = depth_map if control.kind == "depth" else pose_map
        return make(control.image, folder, width, height, _device_of(control.folder))
    if control.kind != "edge":
        raise AddonError(f"no {control.kind} preprocessor is installed on this server")
    arr = np.asarray(control.image.convert("RGB"))
    if looks_like_edge_map(arr):
        # area-downsample then keep any pixel a line crossed: thin lines survive the shrink
        small = np.asarray(Image.fromarray(arr).convert("L").resize((width, height), Image.Resampling.BOX))
        return edge_image(np.where(small > 24, 255, 0).astype(np.uint8))
    return edge_image(edge_map(control.image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)))
