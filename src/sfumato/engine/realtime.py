"""The realtime canvas (Leonardo's LCM endpoints): few-step image-to-image on the engine's cached pipelines.

Which sampler runs a request (`few_step_plan`):
- An LCM model (its scheduler/scheduler_config.json names `LCMScheduler`, as LCM-distilled SD 1.5/SDXL folders
  ship): the model's own scheduler, at the steps asked for.
- A model with an LCM-LoRA installed (engine/lcm.py): the LoRA as the call's adapter and LCMScheduler on the
  model's noise schedule, for that call only (the next job on the model sees neither).
- Any other model, the Starter included: Euler (diffusers' EulerDiscreteScheduler on the model's own noise
  schedule). Chosen by measurement on the Starter at 4 steps (docs/realtime.md): the checker read 30 of 40
  held-out scenes fully right with Euler against 23 with the model's own DPM++ 2M and 0 with DDIM.

`steps` are the denoising steps actually run: diffusers' img2img runs int(steps * strength) of the steps it is
given, so the engine is asked for ceil(steps / strength) (with LCMScheduler at most its original_inference_steps,
50, which it refuses to exceed: then int(50 * strength) run).

Inpainting is the same image-to-image call (so `strength` keeps its meaning) followed by a composite: outside
the mask's white area the output is the input, pixel for pixel.

Torch-free at import (the engine it drives loads torch on first use), so the API process builds it cheaply.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from sfumato.engine.adapters import LoraAdapter
from sfumato.engine.lcm import LCM, LCM_ORIGINAL_STEPS, lcm_lora_file, lcm_lora_weight
from sfumato.engine.types import GenerateRequest, GenerateResult

LCM_SCHEDULER = "LCMScheduler"
FEW_STEP_SCHEDULER = "EULER_DISCRETE"  # measured best at 4 steps on the Starter (module docstring)
METHOD_LCM = "lcm"
METHOD_LCM_LORA = "lcm-lora"
METHOD_FEW_STEP = "few-step-euler"
LCM_LORA_GUIDANCE = 1.5  # the upscale's refinement: LCM is distilled for guidance near 1 (Engine.upscale: 7)


class _Engine(Protocol):
    def generate(self, request: GenerateRequest) -> GenerateResult: ...

    def upscale(
        self,
        model_path: Path,
        image: Image.Image,
        prompt: str,
        seed: int,
        steps: int = 20,
        strength: float = 0.3,
        guidance_scale: float = 7.0,
        scheduler: str | None = None,
        adapters: tuple[LoraAdapter, ...] = (),
    ) -> tuple[Image.Image, str]: ...


@dataclass(frozen=True)
class RealtimeRequest:
    model_path: Path
    prompt: str
    image: Image.Image
    width: int
    height: int
    steps: int = 4
    strength: float = 0.65
    guidance: float = 5.0
    seed: int = 0
    mask: Image.Image | None = None  # L or RGB; white = repaint, black = keep


def is_lcm_model(model_path: Path) -> bool:
    try:
        config = json.loads((Path(model_path) / "scheduler" / "scheduler_config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("_class_name") == LCM_SCHEDULER


@dataclass(frozen=True)
class FewStepPlan:
    """How a model samples on the canvas: the engine's scheduler name (None: the model's own), the LoRAs of
    the call, the method's name, and the most steps the scheduler may be asked for (None: no limit)."""

    scheduler: str | None
    method: str
    adapters: tuple[LoraAdapter, ...] = ()
    max_steps: int | None = None

    def engine_steps(self, steps: int, strength: float) -> int:
        asked = math.ceil(steps / strength)  # so that `steps` denoising steps run (module docstring)
        return min(asked, self.max_steps) if self.max_steps else asked


def _lcm_original_steps(model_path: Path) -> int:
    try:
        config = json.loads((Path(model_path) / "scheduler" / "scheduler_config.json").read_text())
        return int(config.get("original_inference_steps", LCM_ORIGINAL_STEPS))
    except (OSError, ValueError, TypeError):
        return LCM_ORIGINAL_STEPS


def few_step_plan(model_path: Path) -> FewStepPlan:
    if is_lcm_model(model_path):
        return FewStepPlan(None, METHOD_LCM, max_steps=_lcm_original_steps(model_path))
    lora = lcm_lora_file(Path(model_path))
    if lora is not None:
        return FewStepPlan(LCM, METHOD_LCM_LORA, (LoraAdapter(lora, lcm_lora_weight(lora)),), LCM_ORIGINAL_STEPS)
    return FewStepPlan(FEW_STEP_SCHEDULER, METHOD_FEW_STEP)


def keep_outside_mask(result: Image.Image, original: Image.Image, mask: Image.Image) -> Image.Image:
    """`result` where the mask is white, `original` where it is black, blended on grey edges."""
    size = result.size
    alpha = np.asarray(mask.convert("L").resize(size, Image.Resampling.BILINEAR), np.float32)[..., None] / 255.0
    a = np.asarray(result.convert("RGB"), np.float32)
    b = np.asarray(original.convert("RGB").resize(size, Image.Resampling.LANCZOS), np.float32)
    return Image.fromarray(np.round(alpha * a + (1.0 - alpha) * b).astype(np.uint8), "RGB")


class RealtimeRenderer:
    def __init__(self, engine: _Engine) -> None:
        self._engine = engine

    def is_lcm(self, model_path: Path) -> bool:
        """Whether the model samples with LCM on the canvas (an LCM model, or an LCM-LoRA installed for it)."""
        return few_step_plan(model_path).method in (METHOD_LCM, METHOD_LCM_LORA)

    def render(self, request: RealtimeRequest) -> tuple[Image.Image, str]:
        """The picture at request.width x request.height, and the method that made it."""
        plan = few_step_plan(request.model_path)
        init = request.image.convert("RGB")
        result = self._engine.generate(
            GenerateRequest(
                model_path=request.model_path,
                prompt=request.prompt,
                width=request.width,
                height=request.height,
                num_inference_steps=plan.engine_steps(request.steps, request.strength),
                guidance_scale=request.guidance,
                seed=request.seed,
                scheduler=plan.scheduler,
                init_image=init,
                strength=request.strength,
                adapters=plan.adapters,
            )
        )
        method = plan.method
        image = result.images[0]
        if request.mask is not None:
            image = keep_outside_mask(image, init, request.mask)
        return image, method

    def upscale(
        self, model_path: Path, image: Image.Image, prompt: str, seed: int, steps: int, strength: float
    ) -> tuple[Image.Image, str]:
        """Twice the size through the engine's upscale path (enlarge, refine at `strength`, keep the detail). With
        an LCM-LoRA the refinement samples as render does (the LoRA and LCMScheduler), the rest as Engine.upscale."""
        plan = few_step_plan(model_path)
        asked = plan.engine_steps(steps, strength)
        if plan.method != METHOD_LCM_LORA:
            return self._engine.upscale(model_path, image, prompt, seed, steps=asked, strength=strength)
        return self._engine.upscale(
            model_path,
            image,
            prompt,
            seed,
            steps=asked,
            strength=strength,
            guidance_scale=LCM_LORA_GUIDANCE,
            scheduler=plan.scheduler,
            adapters=plan.adapters,
        )
