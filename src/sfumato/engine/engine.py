"""The engine: plain request in, RGB images out. Knows nothing of users, HTTP or the database."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

# peft first, in the thread that builds the engine: it resolves transformers' lazy attributes (AutoModel...),
# which break when two threads resolve them at once (a training starting while the default model loads).
import peft  # noqa: F401
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from sfumato.engine.adapters import LoraAdapter
from sfumato.engine.control_pipes import control_image, control_pipe
from sfumato.engine.device import RuntimeOptions
from sfumato.engine.img2img import (
    METHOD_ADAIN,
    METHOD_IP_ADAPTER,
    adain_step_callback,
    colour_match,
    derived_pipe,
    ip_adapter,
    ip_adapter_weights,
    keep_centre,
    reference_latent_stats,
    unzoom_canvas,
)
from sfumato.engine.lcm import LCM, lcm_scheduler
from sfumato.engine.parallel import side_by_side
from sfumato.engine.pipelines import LoadedPipeline, PipelineCache
from sfumato.engine.postprocess import add_detail, enlarge, remove_background, upscale_size
from sfumato.engine.previews import latent_preview
from sfumato.engine.schedulers import build_scheduler, normalize_scheduler_name
from sfumato.engine.types import GenerateRequest, GenerateResult, InpaintRequest, ProgressCallback
from sfumato.engine.video import MotionRequest, MotionResult, motion_bucket, read_motion_settings
from sfumato.starter.motion.model import MotionPipeline

_SEED_MASK = (1 << 64) - 1  # torch seeds are unsigned 64-bit
_SIZE_MULTIPLE = 8  # every SD-family pipeline refuses sizes that are not multiples of 8
_threads_lock = threading.Lock()
_threads_set = False


def _set_torch_threads(num_threads: int | None) -> None:
    """Set torch's CPU threads: `num_threads` when given, else (once per process) every core this process
    may run on. set_num_threads is process-global, so the default never overrides an earlier choice.
    On a CPU shared with other busy processes, fewer threads can be much faster (OpenMP threads wait on
    each other), hence the explicit setting."""
    global _threads_set
    with _threads_lock:
        if num_threads is None:
            if _threads_set:
                return
            try:
                num_threads = len(os.sched_getaffinity(0))
            except AttributeError:  # not Linux
                num_threads = os.cpu_count() or 1
        torch.set_num_threads(max(1, num_threads))
        _threads_set = True


def choose_bucket(buckets: list[tuple[int, int]], width: int, height: int) -> tuple[int, int]:
    """The bucket whose aspect ratio is closest to width/height (compared in log space, so 2:1 and 1:2 are
    equally far from 1:1); ties go to the larger area."""
    target = math.log(width / height)
    return min(buckets, key=lambda b: (abs(math.log(b[0] / b[1]) - target), -b[0] * b[1]))


def render_size(loaded: LoadedPipeline, width: int, height: int) -> tuple[int, int]:
    """Where the pipeline renders before the final resize to width x height."""
    if loaded.buckets:
        return choose_bucket(loaded.buckets, width, height)

    def round8(n: int) -> int:
        return max(_SIZE_MULTIPLE, round(n / _SIZE_MULTIPLE) * _SIZE_MULTIPLE)

    return round8(width), round8(height)


@contextlib.contextmanager
def swapped_scheduler(pipe: DiffusionPipeline, scheduler: Any) -> Iterator[None]:
    """Put a per-call scheduler on the cached pipeline and always put the model's own back."""
    original = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        yield
    finally:
        pipe.scheduler = original


@contextlib.contextmanager
def seamless_tiling(pipe: DiffusionPipeline, enabled: bool) -> Iterator[None]:
    """Circular padding on every Conv2d of the denoiser and the VAE for this call, so the image wraps
    around left/right and top/bottom; the original padding modes come back afterwards. (Text encoders
    have no convolutions; a transformer denoiser's patch-embedding conv has no padding, so there only the
    VAE wraps.)"""
    if not enabled:
        yield
        return
    patched: list[tuple[torch.nn.Conv2d, str]] = []
    for name, component in pipe.components.items():
        if not isinstance(component, torch.nn.Module) or name.startswith("text_encoder"):
            continue
        for module in component.modules():
            if isinstance(module, torch.nn.Conv2d):
                patched.append((module, module.padding_mode))
                # Conv2d pads with F.pad(mode=padding_mode) itself whenever padding_mode is not "zeros".
                module.padding_mode = "circular"
    try:
        yield
    finally:
        for module, mode in patched:
            module.padding_mode = mode


class Engine:
    """Text-to-image on diffusers pipelines from local folders, cached under a memory budget.

    `generate` runs one request at a time (a lock): a pipeline's modules, its scheduler slot and the tiling
    patch are shared mutable state, and on a CPU two concurrent generations are no faster than two in a row.
    """

    def __init__(
        self,
        memory_budget_bytes: int,
        device: str = "cpu",
        num_threads: int | None = None,
        addons_dir: Path | None = None,
        decode_chunk_frames: int = 8,
        runtime: RuntimeOptions | None = None,
    ) -> None:
        """`num_threads`: torch's CPU threads for the process (default: all the cores this process may
        use, set by the first Engine unless someone chose already). `addons_dir`: where an operator puts
        optional models (upscaler/, nobg/; see engine/postprocess.py). `runtime`: device, dtype and speed
        options (engine/device.py; SFUMATO_DEVICE, SFUMATO_DTYPE, SFUMATO_COMPILE); it replaces `device`."""
        runtime = runtime or RuntimeOptions.for_device(device, "float32")
        self.device = runtime.device
        self.addons_dir = addons_dir
        self.decode_chunk_frames = decode_chunk_frames  # video frames the VAE decodes at once (memory bound)
        self.cache = PipelineCache(memory_budget_bytes, runtime=runtime)
        self._lock = threading.Lock()
        self._motion_lock = threading.Lock()  # one motion call at a time; see `motion`
        if self.device == "cpu":
            _set_torch_threads(num_threads)

    def preload(self, path: Path | str) -> None:
        """Load a model now (e.g. the default one at start-up) so the first request does not pay for it. Under
        the engine's lock: diffusers' loading patches torch globally (meta-device init), so two loads at once on
        two threads break each other."""
        with self._lock:
            self.cache.get(path)

    def is_loaded(self, path: Path | str) -> bool:
        return path in self.cache

    def loaded_models(self) -> list[Path]:
        """Folders of the loaded models, least recently used first."""
        return self.cache.loaded_paths()

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult:
        """Render `request.num_images` images in one batched pipeline call.

        Image i is seeded with `seed + i`, so a seed reproduces its pixels and image 0 of a batch matches a
        single-image call. `progress(step, total)` is called after each denoising step; an exception raised
        by it aborts the generation (the caller's way to cancel).
        """
        _validate(request)
        lcm = request.scheduler == LCM  # the realtime canvas's LCM-LoRA (engine/lcm.py), not a Leonardo value
        scheduler_name = normalize_scheduler_name(request.scheduler) if request.scheduler and not lcm else None
        method: str | None = None
        with self._lock:
            loaded = self.cache.get(request.model_path)
            loaded.adapters.apply(loaded.pipe, request.adapters)  # every request: none disables the last ones
            pipe = _pick_pipe(loaded.pipe, request)
            width, height = render_size(loaded, request.width, request.height)
            kwargs = self._call_kwargs(pipe, request, width, height, progress)
            if request.init_image is not None:
                kwargs["image"] = request.init_image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
                kwargs["strength"] = request.strength
                # diffusers runs int(steps * strength) steps and refuses 0: ask for enough to run one.
                kwargs["num_inference_steps"] = max(request.num_inference_steps, math.ceil(1 / request.strength))
            if request.mask_image is not None:
                kwargs["mask_image"] = request.mask_image.convert("L").resize(
                    (width, height), Image.Resampling.BILINEAR
                )
            if request.controls:
                images = [control_image(c, width, height) for c in request.controls]
                scales = [c.scale for c in request.controls]
                # txt2img ControlNet pipelines take the control image as `image`; img2img ones as `control_image`
                kwargs["control_image" if request.init_image is not None else "image"] = (
                    images[0] if len(images) == 1 else images
                )
                kwargs["controlnet_conditioning_scale"] = scales[0] if len(scales) == 1 else scales
            extra: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
            if request.image_prompts:
                weights = ip_adapter_weights(loaded.path)
                if weights is not None:
                    extra, method = ip_adapter(pipe, weights, request.image_prompt_weight), METHOD_IP_ADAPTER
                    kwargs["ip_adapter_image"] = [list(request.image_prompts)]
                else:
                    stats = reference_latent_stats(pipe, request.image_prompts, width, height)
                    then = kwargs.get("callback_on_step_end")
                    kwargs["callback_on_step_end"] = adain_step_callback(stats, request.image_prompt_weight, then)
                    method = METHOD_ADAIN
            scheduler = lcm_scheduler(loaded.scheduler) if lcm else build_scheduler(scheduler_name, loaded.scheduler)
            with (
                swapped_scheduler(pipe, scheduler),
                seamless_tiling(pipe, request.tiling),
                extra,
                torch.inference_mode(),
            ):
                output = pipe(**kwargs)
        images = side_by_side(partial(_finish, width=request.width, height=request.height), output.images)
        if method == METHOD_ADAIN:
            images = [colour_match(i, request.image_prompts, request.image_prompt_weight) for i in images]
        if request.mask_image is not None and request.init_image is not None:
            images = [keep_unmasked(i, request.init_image, request.mask_image) for i in images]
        return GenerateResult(
            images=images,
            rendered_width=width,
            rendered_height=height,
            image_prompt_method=method,
            control_kinds=tuple(c.kind for c in request.controls),
        )

    def generate_batch(
        self, requests: Sequence[GenerateRequest], progress: Sequence[ProgressCallback]
    ) -> list[GenerateResult | Exception]:
        """Several text-to-image requests of one model, size, steps, guidance, scheduler, tiling and LoRAs
        (`batchable`) in one pipeline call, each with its own prompt, negative prompt and seeds: request r's
        image i starts from the noise of `r.seed + i`, as it would alone. `progress[r]` follows request r; one
        that raises (a cancel) drops that request's result, and the call goes on for the others unless every
        request has stopped. Returns, per request, its result or the exception that stopped it."""
        for request in requests:
            _validate(request)
        first = requests[0]
        mismatched = [r for r in requests[1:] if not batchable(first, r)]
        if not batchable(first, first) or mismatched:
            raise ValueError("generate_batch takes text-to-image requests that differ only in prompts and seeds")
        counts = [r.num_images for r in requests]
        spans = [slice(sum(counts[:i]), sum(counts[: i + 1])) for i in range(len(requests))]
        stopped: dict[int, Exception] = {}
        scheduler_name = normalize_scheduler_name(first.scheduler) if first.scheduler else None
        with self._lock:
            loaded = self.cache.get(first.model_path)
            loaded.adapters.apply(loaded.pipe, first.adapters)
            pipe = loaded.pipe
            width, height = render_size(loaded, first.width, first.height)
            kwargs = self._call_kwargs(pipe, first, width, height, None)
            kwargs["prompt"] = [r.prompt for r in requests for _ in range(r.num_images)]
            if first.negative_prompt and "negative_prompt" in kwargs:
                kwargs["negative_prompt"] = [r.negative_prompt for r in requests for _ in range(r.num_images)]
            kwargs["generator"] = [
                torch.Generator("cpu").manual_seed((r.seed + i) & _SEED_MASK)
                for r in requests
                for i in range(r.num_images)
            ]
            if "num_images_per_prompt" in kwargs:
                kwargs["num_images_per_prompt"] = 1
            steps = first.num_inference_steps
            kwargs["callback_on_step_end"] = _batch_step_callback(
                list(progress), spans, steps, (width, height), stopped
            )
            scheduler = build_scheduler(scheduler_name, loaded.scheduler)
            try:
                with swapped_scheduler(pipe, scheduler), seamless_tiling(pipe, first.tiling), torch.inference_mode():
                    output = pipe(**kwargs)
            except Exception as exc:
                if len(stopped) == len(requests) and any(exc is e for e in stopped.values()):
                    return [stopped[i] for i in range(len(requests))]  # every request stopped: each says why
                raise
        results: list[GenerateResult | Exception] = []
        for index, (request, span) in enumerate(zip(requests, spans, strict=True)):
            if index in stopped:
                results.append(stopped[index])
                continue
            images = side_by_side(partial(_finish, width=request.width, height=request.height), output.images[span])
            results.append(GenerateResult(images=images, rendered_width=width, rendered_height=height))
        return results

    def inpaint(self, request: InpaintRequest) -> Image.Image:
        """Repaint the white part of `request.mask` with the model's inpainting pipeline (a 4-channel
        text-to-image UNet works too: diffusers then blends the kept area back at every step)."""
        with self._lock:
            loaded = self.cache.get(request.model_path)
            loaded.adapters.apply(loaded.pipe, ())  # no LoRA of an earlier request paints here
            pipe = derived_pipe(loaded.pipe, "inpaint")
            width, height = render_size(loaded, *request.image.size)
            kwargs: dict[str, Any] = {
                "prompt": request.prompt,
                "negative_prompt": request.negative_prompt or None,
                "image": request.image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS),
                "mask_image": request.mask.convert("L").resize((width, height), Image.Resampling.BILINEAR),
                "width": width,
                "height": height,
                "strength": 1.0,
                "num_inference_steps": request.num_inference_steps,
                "guidance_scale": request.guidance_scale,
                "generator": torch.Generator("cpu").manual_seed(request.seed & _SEED_MASK),
                "output_type": "pil",
            }
            accepted = inspect.signature(pipe.__call__).parameters
            kwargs = {k: v for k, v in kwargs.items() if k in accepted and v is not None}
            with swapped_scheduler(pipe, build_scheduler(None, loaded.scheduler)), torch.inference_mode():
                output = pipe(**kwargs)
        return _finish(output.images[0], *request.image.size)

    def unzoom(self, request: InpaintRequest) -> Image.Image:
        """Zoom out: the picture at 2/3 size in the middle of a same-size canvas, the border painted by the
        model, the middle kept pixel for pixel (`request.image` is the picture; its mask is ignored)."""
        canvas, mask, box = unzoom_canvas(request.image)
        painted = self.inpaint(dataclasses.replace(request, image=canvas, mask=mask))
        return keep_centre(painted, canvas, box)

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
    ) -> tuple[Image.Image, str]:
        """Twice the size (long side at most 2048): enlarged, refined by the model at low `strength`, and
        only the refinement's fine detail kept (engine/postprocess.py). Returns (image, method). The refinement
        samples as the model's generations do unless told (the realtime canvas's LCM-LoRA: its scheduler,
        adapters and guidance)."""
        size = upscale_size(*image.size)
        big, how = enlarge(image, size, self.addons_dir, self.device)
        request = GenerateRequest(
            model_path=model_path,
            prompt=prompt,
            width=size[0],
            height=size[1],
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            seed=seed,
            scheduler=scheduler,
            init_image=big,
            strength=strength,
            adapters=adapters,
        )
        refined = self.generate(request).images[0]
        return add_detail(big, refined), f"{how}+diffusion-detail"

    def motion(self, request: MotionRequest, progress: ProgressCallback | None = None) -> MotionResult:
        """Image to video on an SVD folder, at the folder's native size (or the bucket closest to the requested
        aspect) and frame count (sfumato_motion.json), with motionStrength as the motion bucket and, on a folder
        that follows one, the requested direction. Frames are decoded `decode_chunk_frames` at a time, so a
        long clip never needs the VAE's memory for every frame at once.

        `progress` runs with the engine's lock released: a motion job is long, and its progress lets waiting
        generations use the engine between its steps (the long lane gives way there). That is safe because no
        other call touches a motion pipeline meanwhile: `_motion_lock` keeps motion calls one at a time."""
        with self._motion_lock, self._lock:
            loaded = self.cache.get(request.model_path)
            pipe = loaded.pipe
            settings = read_motion_settings(loaded.path, getattr(pipe.unet.config, "num_frames", None))
            aspect = request.aspect or request.image.width / request.image.height
            width, height = settings.size_for(aspect)
            image = request.image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
            bucket = motion_bucket(request.motion_strength)
            kwargs: dict[str, Any] = {
                "image": image,
                "width": width,
                "height": height,
                "num_frames": settings.num_frames,
                "num_inference_steps": settings.steps,
                "min_guidance_scale": settings.min_guidance_scale,
                "max_guidance_scale": settings.max_guidance_scale,
                "fps": settings.fps,
                "motion_bucket_id": bucket,
                "noise_aug_strength": settings.noise_aug_strength,
                "decode_chunk_size": max(1, min(settings.num_frames, self.decode_chunk_frames)),
                "generator": torch.Generator("cpu").manual_seed(request.seed & _SEED_MASK),
                "output_type": "pil",
            }
            if request.direction is not None:
                if not isinstance(pipe, MotionPipeline):
                    raise ValueError(f"{loaded.path} cannot follow a motion direction (a stock SVD folder)")
                kwargs["direction"] = request.direction
            if progress is not None:
                kwargs["callback_on_step_end"] = _step_callback(self._unlocked(progress), settings.steps)
            with torch.inference_mode():
                output = pipe(**kwargs)
        frames = [frame.convert("RGB") for frame in output.frames[0]]
        return MotionResult(frames=frames, fps=settings.fps, motion_bucket_id=bucket, steps=settings.steps)

    def _unlocked(self, progress: ProgressCallback) -> ProgressCallback:
        """`progress` called with the engine's lock released (the caller holds it), taken back afterwards,
        also when progress raises (a cancel)."""

        def call(step: int, total: int) -> None:
            self._lock.release()
            try:
                progress(step, total)
            finally:
                self._lock.acquire()

        return call

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]:
        """RGBA with a transparent background, and the method used (no pipeline involved)."""
        return remove_background(image, self.addons_dir, self.device)

    def _call_kwargs(
        self,
        pipe: DiffusionPipeline,
        request: GenerateRequest,
        width: int,
        height: int,
        progress: ProgressCallback | None,
    ) -> dict[str, Any]:
        # One CPU generator per image: image i's starting noise depends on seed + i only, not on batch size.
        generators = [
            torch.Generator("cpu").manual_seed((request.seed + i) & _SEED_MASK) for i in range(request.num_images)
        ]
        kwargs: dict[str, Any] = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt or None,
            "width": width,
            "height": height,
            "num_inference_steps": request.num_inference_steps,
            "guidance_scale": request.guidance_scale,
            "num_images_per_prompt": request.num_images,
            "generator": generators,
            "output_type": "pil",
        }
        if progress is not None:
            kwargs["callback_on_step_end"] = _step_callback(progress, request.num_inference_steps, (width, height))
        # Families differ (Flux has no negative_prompt): pass only what this pipeline's __call__ takes.
        accepted = inspect.signature(pipe.__call__).parameters
        return {k: v for k, v in kwargs.items() if k in accepted and v is not None}


def wants_preview(progress: ProgressCallback) -> bool:
    """Whether the callback takes a third argument: a zero-argument function that makes the step's preview
    (JobContext.progress calls it only when it writes a progress event)."""
    try:
        params = inspect.signature(progress).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in params)


def _step_callback(progress: ProgressCallback, steps: int, size: tuple[int, int] | None = None) -> Any:
    """One request's progress after each step (an exception it raises aborts the call)."""
    return _batch_step_callback([progress], [slice(None)], steps, size, {})


def _batch_step_callback(
    progresses: list[ProgressCallback],
    spans: list[slice],
    steps: int,
    size: tuple[int, int] | None,
    stopped: dict[int, Exception],
) -> Any:
    """After each step, each request's progress with a preview of its own images (`spans`: its slice of the
    batch). A progress that raises stops reporting for its request (recorded in `stopped`); once every
    request has stopped, the exception aborts the pipeline call."""
    previews = [wants_preview(p) for p in progresses]

    def on_step_end(pipe: DiffusionPipeline, step: int, timestep: Any, tensors: dict[str, Any]) -> dict:
        # num_timesteps can differ from the steps asked for (e.g. img2img strength); prefer the pipeline's.
        total = int(getattr(pipe, "num_timesteps", None) or steps)
        latents = tensors.get("latents")
        for index, (progress, span) in enumerate(zip(progresses, spans, strict=True)):
            if index in stopped:
                continue
            try:
                if previews[index] and latents is not None and getattr(pipe, "vae", None) is not None:
                    progress(step + 1, total, _preview_maker(pipe, latents[span], size))  # type: ignore[call-arg]
                else:
                    progress(step + 1, total)
            except Exception as exc:
                stopped[index] = exc
        if len(stopped) == len(progresses):
            raise next(iter(stopped.values()))
        return tensors

    return on_step_end


def _preview_maker(pipe: DiffusionPipeline, latents: torch.Tensor, size: tuple[int, int] | None) -> Any:
    def make_preview() -> Image.Image | None:
        try:  # a preview is a courtesy: it never fails the generation
            factor = getattr(pipe, "vae_scale_factor", 8)  # 2 for the Starter, 8 for SD
            return latent_preview(pipe.vae, latents, size or (latents.shape[-1] * factor, latents.shape[-2] * factor))
        except Exception:
            return None

    return make_preview


def batchable(first: GenerateRequest, other: GenerateRequest) -> bool:
    """Whether `other` can share `first`'s pipeline call (generate_batch): plain text-to-image, and every
    setting the call shares is equal."""
    plain = other.init_image is None and not other.image_prompts and not other.controls and other.mask_image is None
    shared = ("model_path", "width", "height", "num_inference_steps", "guidance_scale", "scheduler", "tiling")
    return (
        plain
        and all(getattr(first, f) == getattr(other, f) for f in shared)
        and bool(first.negative_prompt) == bool(other.negative_prompt)
        and first.adapters == other.adapters
    )


def _pick_pipe(pipe: DiffusionPipeline, request: GenerateRequest) -> DiffusionPipeline:
    """The cached pipeline, or one derived from it sharing its modules: ControlNet, inpainting, img2img."""
    if request.controls:
        return control_pipe(pipe, [c.folder for c in request.controls], img2img=request.init_image is not None)
    if request.mask_image is not None:
        return derived_pipe(pipe, "inpaint")
    return derived_pipe(pipe, "img2img") if request.init_image is not None else pipe


def keep_unmasked(image: Image.Image, init: Image.Image, mask: Image.Image) -> Image.Image:
    """`image` where the mask is white, the init image's own pixels where it is black (a grey edge blends):
    the model renders at its bucket and the VAE round trip shifts every pixel a little, so the kept area is
    pasted back rather than trusted to the pipeline's latent blending."""
    size = image.size
    alpha = mask.convert("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(image, init.convert("RGB").resize(size, Image.Resampling.LANCZOS), alpha)


def _validate(request: GenerateRequest) -> None:
    if request.num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {request.num_images}")
    if request.width < 1 or request.height < 1:
        raise ValueError(f"width and height must be positive, got {request.width}x{request.height}")
    if request.num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be at least 1, got {request.num_inference_steps}")
    if request.init_image is not None and not 0 < request.strength <= 1:
        raise ValueError(f"strength must be in (0, 1] for image-to-image, got {request.strength}")
    if request.mask_image is not None and (request.init_image is None or request.controls):
        raise ValueError("a mask needs an init image and cannot be combined with ControlNets")


def _finish(image: Image.Image, width: int, height: int) -> Image.Image:
    """RGB at exactly the requested size (Lanczos when the render size differs)."""
    image = image.convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image
