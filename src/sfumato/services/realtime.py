"""The realtime canvas (Leonardo's LCM endpoints): synchronous few-step image-to-image, inpainting and refine,
answered inline as data URLs, and the LCM upscale, which also keeps its result as a generation and a variation.

Concurrency: at most `concurrency` requests render at once (each also takes the engine's own lock, shared with
queued jobs); a request that finds no free slot within `wait_seconds` gets a 429 at once instead of queueing
behind a burst (a canvas sends a new request per stroke: an old one is worth less than a quick "busy").
The routes run this in FastAPI's thread pool, so the event loop is never blocked.
"""

from __future__ import annotations

import io
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image

from sfumato.engine.realtime import RealtimeRequest
from sfumato.jobs.core.status import JobStatus
from sfumato.services.catalog import Catalog, ModelEntry
from sfumato.services.credits import Credits
from sfumato.services.credits.quotes import lcm_price
from sfumato.services.errors import Busy
from sfumato.services.realtime_inputs import CanvasParams, CheckedCanvas, check_params, decode_data_url, encode_data_url
from sfumato.services.styles import apply_style
from sfumato.services.variations import variation_row
from sfumato.store.database import Database
from sfumato.store.files import FileStore, generation_files_prefix, image_file_key
from sfumato.store.models import GeneratedImage, Generation

# Strength (creativity) when a request sends none: the canvas redraws a sketch; refine keeps more of it.
DEFAULT_STRENGTH = {"generate": 0.65, "refine": 0.35, "inpaint": 0.9, "upscale": 0.65}
LCM_GUIDANCE = 1.5  # LCM models are distilled for guidance near 1; others take their recommended guidance
EXTRA_STYLES = {  # LcmGenerationStyle values that have no preset-style template of their own
    "DIGITAL_ART": "digital art, {prompt}, detailed, vivid colours",
    "FANTASY_ART": "fantasy art, {prompt}, magical, epic",
}


class Renderer(Protocol):
    def render(self, request: RealtimeRequest) -> tuple[Image.Image, str]: ...

    def upscale(
        self, model_path: Path, image: Image.Image, prompt: str, seed: int, steps: int, strength: float
    ) -> tuple[Image.Image, str]: ...

    def is_lcm(self, model_path: Path) -> bool: ...


@dataclass(frozen=True)
class CanvasResult:
    data_urls: list[str]
    request_timestamp: str | None
    method: str
    generation_id: str | None = None
    variation_id: str | None = None
    generated_image_id: str | None = None
    cost: int = 0  # credits charged for the call


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Realtime:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        catalog: Catalog,
        renderer: Callable[[], Renderer],
        model_id: str | None = None,
        concurrency: int = 2,
        wait_seconds: float = 2.0,
    ) -> None:
        """`renderer`: builds the renderer on first use (it imports the engine). `model_id`: the model the
        canvas runs on (None: the catalog's default)."""
        self._db = db
        self._files = files
        self._catalog = catalog
        self._make_renderer = renderer
        self._renderer: Renderer | None = None
        self._model_id = model_id
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._wait = wait_seconds
        self.credits = Credits(db)  # the composition root sets the one built from SFUMATO_PRICE_TABLE

    def _model(self) -> ModelEntry:
        return self._catalog.resolve_for_generation(self._model_id)

    def _get_renderer(self) -> Renderer:
        if self._renderer is None:
            self._renderer = self._make_renderer()
        return self._renderer

    def _prepare(self, mode: str, p: CanvasParams) -> tuple[ModelEntry, CheckedCanvas, RealtimeRequest]:
        model = self._model()
        renderer = self._get_renderer()
        lcm = renderer.is_lcm(model.path)
        guidance = LCM_GUIDANCE if lcm else (model.recommended_guidance or 5.0)
        checked = check_params(p, guidance, DEFAULT_STRENGTH[mode], secrets.randbelow(2**31))
        image = decode_data_url(p.image_data_url, "imageDataUrl")
        mask = decode_data_url(p.mask_data_url, "maskDataUrl") if mode == "inpaint" else None
        template = EXTRA_STYLES.get(checked.style)
        if template is not None and model.prompt_styles:
            prompt = template.replace("{prompt}", checked.prompt)
        else:
            prompt = apply_style(checked.prompt, checked.style, model.prompt_styles)
        job = RealtimeRequest(
            model_path=model.path,
            prompt=prompt,
            image=image,
            width=checked.width,
            height=checked.height,
            steps=checked.steps,
            strength=checked.strength,
            guidance=checked.guidance,
            seed=checked.seed,
            mask=mask,
        )
        return model, checked, job

    def _slot(self) -> None:
        if not self._slots.acquire(timeout=self._wait):
            raise Busy(
                f"the realtime canvas is busy (every one of its slots has been taken for {self._wait:g} s); "
                "send the request again in a moment"
            )

    def _charge(self, user_id: str | None, mode: str, job_id: str, checked: CheckedCanvas) -> int:
        """A checked request that has its slot is charged before it renders (`_refund` if rendering fails)."""
        amount = lcm_price(self.credits.table, checked.width, checked.height, mode)
        if user_id is None:
            return amount
        return self.credits.charge_now(user_id, "lcm-upscale" if mode == "upscale" else "lcm", job_id, amount)

    def render(self, mode: str, p: CanvasParams, user_id: str | None = None) -> CanvasResult:
        """mode: generate (POST /generations-lcm), refine (/lcm-instant-refine) or inpaint (/lcm-inpainting).
        `user_id`: who pays (None: nobody is charged, e.g. a test of the renderer alone)."""
        _, checked, job = self._prepare(mode, p)
        self._slot()
        call_id = str(uuid.uuid4())
        try:
            cost = self._charge(user_id, mode, call_id, checked)
            try:
                image, method = self._get_renderer().render(job)
            except Exception:
                self.credits.refund(call_id)  # the server failed: the call costs nothing
                raise
        finally:
            self._slots.release()
        return CanvasResult([encode_data_url(image)], p.request_timestamp, method, cost=cost)

    def upscale(self, user_id: str, api_key_id: str | None, p: CanvasParams) -> CanvasResult:
        """POST /lcm-upscale: the canvas picture, then twice its size through the engine's upscale path (refined
        at refineStrength, half of it unless refineCreative). Kept as a COMPLETE generation (the canvas picture)
        and an UPSCALE variation of it (the large one), readable with GET /generations/{id} and /variations/{id}."""
        model, checked, job = self._prepare("upscale", p)
        refine = checked.refine_strength if checked.refine_creative else checked.refine_strength / 2
        self._slot()
        generation_id, image_id, variation_id = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        try:
            cost = self._charge(user_id, "upscale", generation_id, checked)  # the kept generation's id
            try:
                renderer = self._get_renderer()
                canvas, method = renderer.render(job)
                big, how = renderer.upscale(model.path, canvas, job.prompt, job.seed, job.steps, refine)
            except Exception:
                self.credits.refund(generation_id)
                raise
        finally:
            self._slots.release()
        image_key = image_file_key(user_id, generation_id, image_id)
        variation_key = f"{generation_files_prefix(user_id, generation_id)}variations/{variation_id}.png"
        # Files first, rows after: a row never points at a missing file; on failure the files go too.
        self._files.put(image_key, _png(canvas))
        self._files.put(variation_key, _png(big))
        try:
            with self._db.session() as s:
                s.add(self._generation_row(user_id, api_key_id, generation_id, model, checked, job, p.style))
                s.flush()
                s.add(
                    GeneratedImage(
                        id=image_id,
                        generation_id=generation_id,
                        user_id=user_id,
                        index=0,
                        file_key=image_key,
                        token=secrets.token_urlsafe(24),
                    )
                )
                s.flush()
                s.add(
                    variation_row(
                        id=variation_id,
                        user_id=user_id,
                        api_key_id=api_key_id,
                        generation_id=generation_id,
                        generated_image_id=image_id,
                        transform_type="UPSCALE",
                        status=JobStatus.COMPLETE,
                        method=f"{method}+{how}"[:64],
                        file_key=variation_key,
                    )
                )
        except Exception:
            self._files.delete_prefix(generation_files_prefix(user_id, generation_id))
            self.credits.refund(generation_id)
            raise
        return CanvasResult(
            [encode_data_url(big)], p.request_timestamp, method, generation_id, variation_id, image_id, cost
        )

    @staticmethod
    def _generation_row(
        user_id: str,
        api_key_id: str | None,
        generation_id: str,
        model: ModelEntry,
        checked: CheckedCanvas,
        job: RealtimeRequest,
        style: str | None,
    ) -> Generation:
        return Generation(
            id=generation_id,
            user_id=user_id,
            api_key_id=api_key_id,
            status=JobStatus.COMPLETE,
            attempts=0,
            model_id=model.id,
            model_path=str(model.path),
            prompt=checked.prompt,
            engine_prompt=job.prompt,
            width=checked.width,
            height=checked.height,
            num_images=1,
            num_inference_steps=checked.steps,
            guidance_scale=checked.guidance,
            seed=checked.seed,
            scheduler=model.default_scheduler,
            preset_style=checked.style if style else "DYNAMIC",
            sd_version=model.sd_version,
            init_strength=checked.strength,
            options={"source": "lcm-upscale"},
        )
