"""Where and how pipelines run: the device, the weights' dtype, and the speed options applied at load
(SDPA attention, channels-last, an opt-in `torch.compile` warmed by dummy calls). docs/operations.md, "GPU".

The CPU default stays exactly what it was: float32, diffusers' own attention, no compile. On CUDA every option
is on except compile, which the operator opts into (SFUMATO_COMPILE) because it costs minutes at start-up.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

DEVICE_NAMES = "cpu, cuda, cuda:N or auto"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# SFUMATO_COMPILE's "on". Not "reduce-overhead": CUDA graphs record one graph per shape and hold its memory,
# and the engine calls the pipeline from whichever worker thread runs the job, which CUDA graph trees do not
# support; batching across requests changes the batch size all the time. max-autotune without CUDA graphs
# keeps the kernel autotuning, and its cost (a longer compile) is paid once, at load, by the warm-up.
COMPILE_ON = "max-autotune-no-cudagraphs"
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
_OFF = ("", "0", "false", "off", "no")
_ON = ("1", "true", "on", "yes")
# Families whose weights are trained in bfloat16 and overflow in float16 (black or NaN images).
_BF16_PIPELINES = ("Flux", "Sana", "Lumina", "CogView", "HiDream", "Chroma", "QwenImage", "Wan")
_DENOISERS = ("unet", "transformer")
_WARMUP_STEPS = 2


class DeviceUnavailableError(RuntimeError):
    """SFUMATO_DEVICE names a device this machine (or this torch build) does not have."""


def parse_device(name: str) -> str:
    """`name` normalised (lower case, no spaces), or ValueError naming SFUMATO_DEVICE and what it takes."""
    value = name.strip().lower()
    if not re.fullmatch(r"cpu|cuda|cuda:\d+|auto", value):
        raise ValueError(f"SFUMATO_DEVICE must be one of {DEVICE_NAMES}; got {name!r}")
    return value


def parse_dtype(name: str) -> str:
    value = name.strip().lower()
    if value != "auto" and value not in DTYPES:
        raise ValueError(f"SFUMATO_DTYPE must be auto, {', '.join(DTYPES)}; got {name!r}")
    return value


def parse_compile(value: str | bool) -> str:
    """SFUMATO_COMPILE → "off" or a torch.compile mode: 1/true/on is COMPILE_ON, a mode name is that mode."""
    text = str(value).strip().lower()
    if text in _OFF:
        return "off"
    if text in _ON:
        return COMPILE_ON
    if text in COMPILE_MODES:
        return text
    raise ValueError(
        f"SFUMATO_COMPILE must be off, on (= {COMPILE_ON}) or a torch.compile mode "
        f"({', '.join(COMPILE_MODES)}); got {value!r}"
    )


def resolve_device(name: str) -> str:
    """The torch device to run on: `auto` is the first CUDA device when there is one, else the CPU. A CUDA
    device that is not there raises DeviceUnavailableError, naming SFUMATO_DEVICE and what to do."""
    value = parse_device(name)
    if value == "cpu":
        return value
    available = torch.cuda.is_available()
    if value == "auto":
        return "cuda" if available else "cpu"
    if not available:
        build = torch.__version__ + ("" if torch.version.cuda else ", a build without CUDA")
        raise DeviceUnavailableError(
            f"SFUMATO_DEVICE={name} but this machine has no CUDA device torch can use (torch {build}); "
            "set SFUMATO_DEVICE=cpu (or auto), or install PyTorch's CUDA build on a machine with an NVIDIA GPU"
        )
    index = int(value.split(":")[1]) if ":" in value else 0
    if index >= torch.cuda.device_count():
        raise DeviceUnavailableError(
            f"SFUMATO_DEVICE={name} but this machine has {torch.cuda.device_count()} CUDA device(s), "
            f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    return value


def require_device(name: str) -> None:
    """Start-up check: raise DeviceUnavailableError unless `name` can run here. Free for the CPU default
    (no torch import is needed to know the CPU is there)."""
    if name.strip().lower() != "cpu":
        resolve_device(name)


def resolve_dtype(name: str, device: str, folder: Path | None = None) -> torch.dtype:
    """The weights' dtype. An explicit SFUMATO_DTYPE wins. `auto`: float32 on the CPU (half precision there is
    slower, and some CPU kernels lack it); on CUDA float16, except bfloat16 where the model calls for it (its
    sfumato_model.json says `"dtype": "bfloat16"`, its family is trained in bf16, or its denoiser's weights are
    stored in bf16: float16's smaller range overflows them) and the GPU has bf16 (Ampere and later; an older
    GPU gets float32 rather than an overflowing float16)."""
    value = parse_dtype(name)
    if value != "auto":
        return DTYPES[value]
    if not device.startswith("cuda"):
        return torch.float32
    if folder is not None and wants_bfloat16(folder):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.float16


def wants_bfloat16(folder: Path) -> bool:
    """Whether a model folder calls for bfloat16 rather than float16 (see resolve_dtype)."""
    meta = _read_json(folder / "sfumato_model.json")
    if isinstance(meta.get("dtype"), str):
        return meta["dtype"].strip().lower() == "bfloat16"
    pipeline = str(_read_json(folder / "model_index.json").get("_class_name", ""))
    if any(pipeline.startswith(family) for family in _BF16_PIPELINES):
        return True
    return any(_stored_dtype(folder / name) == "BF16" for name in _DENOISERS)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stored_dtype(component: Path) -> str | None:
    """The dtype of the first tensor in a component's first .safetensors file (its header only is read)."""
    files = sorted(component.glob("*.safetensors")) if component.is_dir() else []
    if not files:
        return None
    try:
        with files[0].open("rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(min(length, 1 << 24)))
    except (OSError, ValueError, struct.error):
        return None
    tensors = [v for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]
    return str(tensors[0].get("dtype")) if tensors else None


@dataclass(frozen=True)
class RuntimeOptions:
    """How pipelines are loaded and run. `for_device` gives the defaults of a device; tests set the fields
    themselves, e.g. channels_last and a compile on the CPU (compile_backend "aot_eager" or a counting
    backend: inductor's C++ build takes minutes on a small CPU)."""

    device: str = "cpu"
    dtype: str = "auto"
    sdpa: bool = False  # every plain attention processor becomes AttnProcessor2_0 (scaled_dot_product_attention)
    channels_last: bool = False  # UNet and VAE weights in channels-last (NHWC) memory format
    compile_mode: str = "off"  # "off" or a torch.compile mode
    compile_backend: str | Callable[..., Any] = "inductor"
    warmups: list[str] = field(default_factory=list, compare=False)  # folders warmed, for logs and tests

    @classmethod
    def for_device(cls, device: str = "cpu", dtype: str = "auto", compile: str | bool = "off") -> RuntimeOptions:
        """The settings' options: the device resolved (DeviceUnavailableError when it is not there), and on
        CUDA SDPA and channels-last on."""
        resolved = resolve_device(device)
        cuda = resolved.startswith("cuda")
        return cls(resolved, parse_dtype(dtype), sdpa=cuda, channels_last=cuda, compile_mode=parse_compile(compile))

    def dtype_for(self, folder: Path) -> torch.dtype:
        return resolve_dtype(self.dtype, self.device, folder)


def use_sdpa(pipe: Any) -> dict[str, int]:
    """Every plain `AttnProcessor` of the pipeline's models becomes `AttnProcessor2_0` (torch's fused
    scaled_dot_product_attention: flash / memory-efficient kernels on CUDA). Processors of other kinds (IP-Adapter,
    a family's own, which already call SDPA) are left alone. Returns the processors' class names counted, so a
    log line (and a test) shows what is in use."""
    from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0

    used: dict[str, int] = {}
    for component in _modules(pipe):
        processors = getattr(component, "attn_processors", None)
        if not isinstance(processors, dict) or not processors:
            continue
        if any(type(p) is AttnProcessor for p in processors.values()):
            swapped = {k: AttnProcessor2_0() if type(p) is AttnProcessor else p for k, p in processors.items()}
            component.set_attn_processor(swapped)
        for processor in component.attn_processors.values():
            used[type(processor).__name__] = used.get(type(processor).__name__, 0) + 1
    return used


def use_channels_last(pipe: Any) -> list[str]:
    """UNet and VAE in channels-last (their convolutions run NHWC on tensor cores without transposes). Only
    image models: video UNets and VAEs have 3D convolutions, which have no channels-last form of this kind."""
    done = []
    for name in ("unet", "vae"):
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module) and not any(p.dim() == 5 for p in module.parameters()):
            module.to(memory_format=torch.channels_last)
            done.append(name)
    return done


def compile_denoiser(pipe: Any, mode: str, backend: str | Callable[..., Any] = "inductor") -> str | None:
    """Compile the UNet (or transformer) in place (`Module.compile`: the pipeline, the img2img / inpaint /
    ControlNet pipelines derived from it and LoRA loading keep seeing the same module). Returns its name."""
    import torch._dynamo.config as dynamo

    # Each model of a family, batch kind (CFG or not), LoRA set, ControlNet or tiling call may add a graph to the
    # denoiser's forward; past the limit (8) dynamo would silently run it eager.
    for limit in ("recompile_limit", "cache_size_limit"):
        if hasattr(dynamo, limit):
            setattr(dynamo, limit, max(getattr(dynamo, limit), 64))
            break
    for name in _DENOISERS:
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            if backend == "inductor":
                module.compile(mode=mode)
            else:  # other backends take no mode
                module.compile(backend=backend)
            return name
    return None


def default_size(pipe: Any, buckets: list[tuple[int, int]]) -> tuple[int, int]:
    """The model's default render size: its first bucket, else the denoiser's sample size in pixels."""
    if buckets:
        return buckets[0]
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    sample = getattr(getattr(denoiser, "config", None), "sample_size", None) or 64
    side = (sample[0] if isinstance(sample, (list, tuple)) else int(sample)) * int(getattr(pipe, "vae_scale_factor", 8))
    return side, side


def warm_up(pipe: Any, size: tuple[int, int]) -> float:
    """Dummy calls that make torch.compile build its graphs now rather than in the first request: one image at
    the default size (the static graph), then two images at another size, which makes dynamo recompile once with
    the batch and the sizes dynamic, so requests of any batch size (batching across requests) and any size run
    without compiling again. Same grad mode as the engine's calls (inference_mode), else dynamo recompiles.
    Returns the seconds it took."""
    import inspect

    started = time.perf_counter()
    width, height = size
    other = (width + 64, height + 128)  # both sides change, and differently
    accepted = inspect.signature(pipe.__call__).parameters
    for images, (w, h) in ((1, (width, height)), (2, other)):
        kwargs = {
            "prompt": "warm-up",
            "width": w,
            "height": h,
            "num_inference_steps": _WARMUP_STEPS,
            "num_images_per_prompt": images,
            "generator": [torch.Generator("cpu").manual_seed(i) for i in range(images)],
            "output_type": "pil",
        }
        with torch.inference_mode():
            pipe(**{k: v for k, v in kwargs.items() if k in accepted})
    return time.perf_counter() - started


def prepare(pipe: Any, options: RuntimeOptions, folder: Path, buckets: list[tuple[int, int]], video: bool) -> None:
    """Apply `options` to a freshly loaded pipeline: SDPA, channels-last, then compile and its warm-up. Video
    pipelines skip channels-last and compile (3D convolutions; their calls need an input image to warm up)."""
    notes = []
    if options.sdpa:
        notes.append(f"attention {use_sdpa(pipe)}")
    if options.channels_last and not video:
        notes.append(f"channels-last {use_channels_last(pipe)}")
    if options.compile_mode != "off" and not video:
        compiled = compile_denoiser(pipe, options.compile_mode, options.compile_backend)
        if compiled is not None:
            seconds = warm_up(pipe, default_size(pipe, buckets))
            options.warmups.append(str(folder))
            notes.append(f"{compiled} compiled ({options.compile_mode}), warmed up in {seconds:.1f} s")
    if notes:
        log.info("%s on %s: %s", folder.name, options.device, "; ".join(notes))


def _modules(pipe: Any) -> list[torch.nn.Module]:
    return [c for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
