"""The engine's plain request/result types: no users, no HTTP, no database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from sfumato.engine.adapters import LoraAdapter
from sfumato.engine.control import ControlInput

# Leonardo's `SdGenerationSchedulers` values, all accepted by the engine (see engine/schedulers.py for the
# diffusers scheduler each maps to). Kept here, free of torch, so the API can validate without importing it.
SCHEDULER_NAMES: tuple[str, ...] = (
    "KLMS",
    "EULER_ANCESTRAL_DISCRETE",
    "EULER_DISCRETE",
    "DDIM",
    "DPM_SOLVER",
    "PNDM",
    "LEONARDO",
)

# Called as progress(step, total_steps) while a pipeline denoises.
ProgressCallback = Callable[[int, int], None]


class ModelNotFoundError(Exception):
    """The model folder is missing or is not a loadable diffusers pipeline."""


class AddonError(Exception):
    """An operator-installed optional model (IP-Adapter, upscaler, background remover) is there but cannot be
    used; the message names the file and what is wrong with it. The job fails with it rather than quietly
    falling back, so a broken install shows up at once instead of as weaker pictures."""


@dataclass(frozen=True)
class GenerateRequest:
    """One text-to-image call. Sizes are what the caller wants back; the engine may render at the
    model's native bucket size (see `sfumato_model.json`) and resize."""

    model_path: Path
    prompt: str
    negative_prompt: str | None = None
    width: int = 512
    height: int = 512
    num_images: int = 1
    num_inference_steps: int = 20
    guidance_scale: float = 7.0
    seed: int = 0
    # A Leonardo `SdGenerationSchedulers` value (EULER_DISCRETE, DPM_SOLVER, ...); None keeps the model's own.
    scheduler: str | None = None
    tiling: bool = False
    # Image-to-image: the picture to start from and diffusers' `strength` (0 keeps it, 1 ignores it).
    init_image: Image.Image | None = None
    strength: float = 1.0
    # Image prompts: pictures whose look the output should take on, and how strongly (0..1).
    image_prompts: tuple[Image.Image, ...] = ()
    image_prompt_weight: float = 0.5
    # LoRAs for this request only (a custom model's, elements), each with its weight.
    adapters: tuple[LoraAdapter, ...] = ()
    # Structural guidance (ControlNets), each with the user's picture; the engine runs the preprocessor.
    controls: tuple[ControlInput, ...] = ()
    # Canvas inpainting: with an init image, repaint only where this L-mode mask is white; every pixel where
    # it is black comes back exactly as in the init image.
    mask_image: Image.Image | None = None


@dataclass(frozen=True)
class InpaintRequest:
    """Repaint where `mask` is white (L mode, same size as `image`), keep where it is black."""

    model_path: Path
    prompt: str
    image: Image.Image
    mask: Image.Image
    negative_prompt: str | None = None
    num_inference_steps: int = 20
    guidance_scale: float = 7.0
    seed: int = 0


@dataclass
class GenerateResult:
    images: list[Image.Image] = field(default_factory=list)
    # The size the pipeline actually rendered at before any resize (for the record and the benchmarks).
    rendered_width: int = 0
    rendered_height: int = 0
    # How image prompts were applied ("ip-adapter", "latent-adain+colour-match"); None without image prompts.
    image_prompt_method: str | None = None
    # The ControlNets that ran ("edge", ...), in request order; empty without structural guidance.
    control_kinds: tuple[str, ...] = ()
