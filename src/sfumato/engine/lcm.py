"""LCM-LoRA: latent-consistency sampling on an operator's ordinary (non-LCM) model, for the realtime canvas.

An operator installs the LoRA for a model as a folder holding one diffusers/peft-format LoRA file (as
`latent-consistency/lcm-lora-sdv1-5` and `-sdxl` ship it: `pytorch_lora_weights.safetensors`), found in this order:
1. `<model folder>/lcm_lora/`;
2. `<model folder>-lcm-lora/` beside the model folder (as ControlNets may sit beside it, engine/control.py).
An optional `sfumato_lcm_lora.json` there may set `{"weight": 1.0}` (the LoRA's scale; 1 unless told).

Only the realtime calls use it (engine/realtime.py): they send the LoRA as the request's adapter and the engine
scheduler name `LCM` (not one of Leonardo's values: the API never lets a user send it), which the engine turns
into a fresh `LCMScheduler` on the model's own noise schedule for that one call. Adapters are applied to the
cached pipeline on every request under the engine's lock (engine/adapters.py) and the scheduler is swapped back
after the call, so the next job on the same model runs without either.

Torch-free at import.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LCM = "LCM"  # the engine-only scheduler name of a GenerateRequest that samples with LCMScheduler
LCM_LORA_DIR = "lcm_lora"
LCM_LORA_SETTINGS = "sfumato_lcm_lora.json"
LCM_ORIGINAL_STEPS = 50  # LCMScheduler's original_inference_steps: it refuses to be asked for more steps


def lcm_lora_file(model_path: Path) -> Path | None:
    """The LCM-LoRA file installed for the model at `model_path`, or None."""
    for folder in (model_path / LCM_LORA_DIR, model_path.parent / f"{model_path.name}-lcm-lora"):
        if not folder.is_dir():
            continue
        preferred = folder / "pytorch_lora_weights.safetensors"
        if preferred.is_file():
            return preferred
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".safetensors")
        if files:
            return files[0]
    return None


def lcm_lora_weight(lora_file: Path) -> float:
    """The scale the LoRA runs at: `weight` in the folder's sfumato_lcm_lora.json, else 1."""
    try:
        settings = json.loads((lora_file.parent / LCM_LORA_SETTINGS).read_text())
    except (OSError, ValueError):
        return 1.0
    weight = settings.get("weight", 1.0) if isinstance(settings, dict) else 1.0
    return float(weight) if isinstance(weight, (int, float)) and not isinstance(weight, bool) else 1.0


def lcm_scheduler(model_scheduler: Any) -> Any:
    """A fresh LCMScheduler on the model's own noise schedule (betas, prediction type, zero-SNR), as diffusers'
    LCM-LoRA recipe builds it: `LCMScheduler.from_config(pipe.scheduler.config)`."""
    from diffusers import LCMScheduler

    if type(model_scheduler).__name__.startswith("FlowMatch"):
        raise ValueError("an LCM-LoRA needs a DDPM-family model; this one samples by flow matching")
    return LCMScheduler.from_config(model_scheduler.config)
