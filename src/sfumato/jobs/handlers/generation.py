"""Generations (text-to-image and image-to-image): the work of one generation job. It needs only the row:
the service fixed the model folder and prompt at creation. Claims and finishing are jobs/core/runner.py's."""

from __future__ import annotations

import io
import json
import logging
import secrets
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image
from sqlalchemy.orm import Session

from sfumato.engine.adapters import AdapterError, LoraAdapter
from sfumato.engine.control import ControlInput, controlnet_folder
from sfumato.engine.parallel import side_by_side
from sfumato.engine.types import GenerateRequest, GenerateResult, ModelNotFoundError, ProgressCallback
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.kinds import Batching, FinishHook, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import Lane
from sfumato.store.files import FileStore, generation_files_prefix, image_file_key, local_copy
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger(__name__)

KIND = "generation"


class GenerationEngine(Protocol):
    """What generations need of the engine (the real one is sfumato.engine.engine.Engine)."""

    def generate(self, request: GenerateRequest, progress: ProgressCallback | None = None) -> GenerateResult: ...

    def generate_batch(
        self, requests: Sequence[GenerateRequest], progress: Sequence[ProgressCallback]
    ) -> list[GenerateResult | Exception]: ...

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]: ...


class InputMissing(Exception):
    """An input image of the job (init image, image prompt) was deleted before the job ran."""


def open_stored(data: bytes) -> Image.Image:
    """An image this server stored itself (checked when it was uploaded or generated), as RGB."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def _stored(files: FileStore, key: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(files.get(key)))
        image.load()
        return image
    except FileNotFoundError:
        raise InputMissing(
            "an input image (init image, image prompt, ControlNet or canvas image) was deleted before the job "
            "ran; upload or generate it again"
        ) from None


@dataclass(frozen=True)
class Guide:
    """What the engine takes for the row's image inputs, ControlNets and canvas request."""

    init_image: Image.Image | None
    strength: float
    image_prompts: tuple[Image.Image, ...]
    image_prompt_weight: float
    controls: tuple[ControlInput, ...] = ()
    mask: Image.Image | None = None


def canvas_images(init: Image.Image, mask: Image.Image | None, kind: str) -> tuple[Image.Image, Image.Image | None]:
    """The canvas picture as RGB and the mask the engine repaints (None: plain image-to-image). OUTPAINT adds
    the picture's transparent pixels to the mask and fills them with the picture's mean colour first, a
    neutral start rather than the black an RGB conversion gives."""
    rgba = init.convert("RGBA")
    rgb = rgba.convert("RGB")
    area = mask.convert("L").resize(rgb.size, Image.Resampling.BILINEAR) if mask is not None else None
    if kind == "OUTPAINT":
        clear = rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0)
        area = clear if area is None else Image.fromarray(np.maximum(np.asarray(area), np.asarray(clear)))
        opaque = np.asarray(rgb)[np.asarray(clear) == 0]
        mean = tuple(int(v) for v in (opaque.mean(axis=0) if len(opaque) else (128, 128, 128)))
        rgb = Image.composite(Image.new("RGB", rgb.size, mean), rgb, clear)
    return rgb, area


def load_guidance(
    files: FileStore, row: Generation, init_image: Image.Image | None, prompts: tuple[Image.Image, ...]
) -> Guide:
    """ControlNet pictures, references (image prompts at the strongest scale asked for) and the canvas request
    of the row, added to its init image and image prompts."""
    controls, references, scales = [], [], []
    for c in row.controls or ():
        picture = _stored(files, c["file_key"]).convert("RGB")
        if c["kind"] in ("style", "character", "content"):
            references.append(picture)
            scales.append(float(c["scale"]))
            continue
        folder = controlnet_folder(Path(row.model_path), c["kind"])
        if folder is None:  # the operator removed it after the request was accepted
            raise InputMissing(f"the {c['kind']} ControlNet of this model was removed before the job ran")
        controls.append(ControlInput(c["kind"], picture, folder, float(c["scale"])))
    if row.image_prompt_weight is not None and prompts:
        scales.append(row.image_prompt_weight)
    mask = None
    # Leonardo's init_strength is how much of the input to keep; diffusers' strength is how much to change:
    # 1 - init_strength (rounded, so 1 - 0.9 runs one step, not zero). A canvas inpaint without one repaints
    # its area from scratch.
    keep = row.init_strength
    if row.canvas:
        picture = _stored(files, row.canvas["init_key"])
        mask_picture = _stored(files, row.canvas["mask_key"]) if row.canvas.get("mask_key") else None
        init_image, mask = canvas_images(picture, mask_picture, row.canvas["type"])
    if init_image is None:
        strength = 1.0
    elif keep is None:
        strength = 1.0 if row.canvas else 0.5
    else:
        strength = round(1.0 - keep, 4)
    return Guide(
        init_image=init_image,
        strength=strength,
        image_prompts=prompts + tuple(references),
        image_prompt_weight=max(scales) if scales else 0.5,
        controls=tuple(controls),
        mask=mask,
    )


def load_adapters(files: FileStore, row: Generation, cache_dir: Path) -> tuple[LoraAdapter, ...]:
    """The LoRAs the service recorded: platform elements by path, user LoRAs by storage key (a local copy)."""
    out = []
    for record in row.adapters or ():
        try:
            if record.get("path"):
                path = Path(record["path"])
                if not path.is_file():
                    raise FileNotFoundError(path)
            else:
                path = local_copy(files, record["key"], cache_dir)
        except FileNotFoundError:
            what = "custom model" if record.get("source") == "model" else "element"
            raise InputMissing(
                f"the {what} {record.get('name')!r} ({record.get('ref')}) was deleted before the job ran; "
                "generate again without it"
            ) from None
        out.append(LoraAdapter(path, float(record["weight"])))
    return tuple(out)


def load_inputs(files: FileStore, row: Generation) -> tuple[Image.Image | None, tuple[Image.Image, ...]]:
    """The init image and image prompts the service recorded (as file keys)."""

    def load(key: str) -> Image.Image:
        try:
            return open_stored(files.get(key))
        except FileNotFoundError:
            raise InputMissing(
                "an input image (init image or image prompt) was deleted before the job ran; "
                "upload or generate it again"
            ) from None

    init = load(row.init_file_key) if row.init_file_key else None
    return init, tuple(load(k) for k in row.image_prompt_file_keys or ())


class GenerationRowHandler:
    """What the kinds whose rows are generations share (image ones here, motion ones in motion.py)."""

    def __init__(self, files: FileStore) -> None:
        self._files = files

    def failure_reason(self, exc: Exception) -> str | None:
        return str(exc) if isinstance(exc, (ModelNotFoundError, InputMissing, AdapterError)) else None

    def discard(self, row: Generation) -> None:
        # A generation that did not complete has no images: everything under its prefix is this job's.
        self._files.delete_prefix(generation_files_prefix(row.user_id, row.id))


def batch_key(row: Generation) -> Hashable | None:
    """Generations that can share one engine call: text-to-image with the same model, size, steps, guidance,
    scheduler, tiling and LoRAs (each keeps its own prompt and seed). Any image input puts a job on its own;
    so does a negative prompt where the others have none (SDXL encodes "no negative prompt" differently)."""
    if row.init_file_key or row.image_prompt_file_keys or row.controls or row.canvas:
        return None
    adapters = json.dumps(row.adapters or [], sort_keys=True)
    return (
        row.model_path,
        row.width,
        row.height,
        row.num_inference_steps,
        row.guidance_scale,
        row.engine_scheduler,
        bool(row.tiling),
        bool(row.negative_prompt),
        adapters,
    )


class GenerationHandler(GenerationRowHandler):
    def __init__(self, files: FileStore, engine: GenerationEngine, adapter_cache: Path) -> None:
        super().__init__(files)
        self._engine = engine
        self._adapter_cache = adapter_cache

    def execute(self, ctx: JobContext, row: Generation) -> str | None:
        init_image, prompts = load_inputs(self._files, row)
        adapters = load_adapters(self._files, row, self._adapter_cache)
        guide = load_guidance(self._files, row, init_image, prompts)
        result = self._engine.generate(_request(row, adapters, guide), progress=ctx.progress)
        self._finish(ctx, row, result)
        return None

    def execute_batch(self, ctxs: Sequence[JobContext], rows: Sequence[Generation]) -> list[Exception | None]:
        """Jobs with one batch key (text-to-image only, same LoRAs) in one engine call."""
        adapters = load_adapters(self._files, rows[0], self._adapter_cache)
        requests = [_request(row, adapters) for row in rows]
        results = self._engine.generate_batch(requests, [ctx.progress for ctx in ctxs])
        outcomes: list[Exception | None] = []
        for ctx, row, result in zip(ctxs, rows, results, strict=True):
            if isinstance(result, Exception):
                outcomes.append(result)
                continue
            try:
                self._finish(ctx, row, result)
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _finish(self, ctx: JobContext, row: Generation, result: GenerateResult) -> None:
        """Background removal when asked, the PNGs stored, and the row COMPLETE with its images."""
        outputs = result.images
        transparency_method = None
        if row.transparency == "foreground_only":
            removed = [self._engine.remove_background(image) for image in outputs]
            outputs = [image for image, _ in removed]
            transparency_method = removed[0][1] if removed else None
        images: list[GeneratedImage] = []
        for index, png in enumerate(encode_pngs(outputs)):
            image_id = str(uuid.uuid4())
            key = image_file_key(row.user_id, row.id, image_id)
            ctx.put(key, png)
            images.append(
                GeneratedImage(
                    id=image_id,
                    generation_id=row.id,
                    user_id=row.user_id,
                    index=index,
                    file_key=key,
                    token=secrets.token_urlsafe(24),
                )
            )

        def record(s: Session, current: Generation) -> None:
            s.add_all(images)
            current.image_prompt_method = result.image_prompt_method
            current.transparency_method = transparency_method

        ctx.complete(record)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    # Level 1: PNG stays lossless; higher levels cost seconds on big images for a few % size.
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_pngs(images: list[Image.Image]) -> list[bytes]:
    """The images' PNG bytes, in order, encoded side by side: Pillow's encoder releases the GIL, and this sits
    between a job's last step and COMPLETE (4 SDK-default images at 1024x768: ~190 ms one by one, ~125 ms on two
    threads of this 2-core VM with another job on it)."""
    return side_by_side(png_bytes, images)


_NO_GUIDE = Guide(init_image=None, strength=1.0, image_prompts=(), image_prompt_weight=0.5)


def _request(row: Generation, adapters: tuple[LoraAdapter, ...], guide: Guide = _NO_GUIDE) -> GenerateRequest:
    return GenerateRequest(
        model_path=Path(row.model_path),
        prompt=row.engine_prompt,
        negative_prompt=row.negative_prompt,
        width=row.width,
        height=row.height,
        num_images=row.num_images,
        num_inference_steps=row.num_inference_steps,
        guidance_scale=row.guidance_scale,
        seed=row.seed,
        scheduler=row.engine_scheduler,
        tiling=row.tiling,
        init_image=guide.init_image,
        strength=guide.strength,
        image_prompts=guide.image_prompts,
        image_prompt_weight=guide.image_prompt_weight,
        adapters=adapters,
        controls=guide.controls,
        mask_image=guide.mask,
    )


def generation_kind(
    files: FileStore,
    engine: GenerationEngine,
    finish_hooks: tuple[FinishHook, ...] = (),
    adapter_cache: Path = Path("adapter-cache"),
) -> JobKindSpec:
    """`adapter_cache`: where a worker keeps copies of LoRAs from object storage (local disk reads them in place)."""
    return JobKindSpec(
        name=KIND,
        table=Generation,
        handler=GenerationHandler(files, engine, adapter_cache),
        model_of=ModelOf(Generation.model_id),
        lane=Lane.INTERACTIVE,
        finish_hooks=finish_hooks,
        discriminator=Generation.job_kind,  # motion generations share the table (jobs/handlers/motion.py)
        batching=Batching(batch_key, weight=lambda row: row.num_images),
    )
