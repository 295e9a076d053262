"""The Generate form: its fields (named as the API's wire keys, so a refused field's message reads the same as
the API's) turned into the GenerationParams that POST /generations builds, and back (to fill the form from an
earlier generation)."""

from __future__ import annotations

import re
from typing import Any

from sfumato.services.errors import InvalidRequest
from sfumato.services.generations import GenerationParams, GenerationView

_INTS = ("width", "height", "num_images", "num_inference_steps", "seed")
_FLOATS = ("guidance_scale", "init_strength", "imagePromptWeight")


def _number(form: dict[str, str], name: str, kind: type) -> Any:
    text = form.get(name, "").strip()
    if not text:
        return None  # the API's default, as when the key is left out
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        message = f"{name} must be {what}, got {text!r}; leave it empty for the default"
        raise InvalidRequest(message, field=name) from None


def image_prompt_ids(text: str) -> list[str]:
    """Image prompt ids as typed: separated by commas, spaces or new lines."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def params_from_form(form: dict[str, str], init_image_id: str | None) -> GenerationParams:
    """The request the form describes (empty fields: the API's defaults). Raises InvalidRequest naming the field."""
    ints = {name: _number(form, name, int) for name in _INTS}
    floats = {name: _number(form, name, float) for name in _FLOATS}
    prompts = image_prompt_ids(form.get("imagePrompts", ""))
    return GenerationParams(
        prompt=form.get("prompt", ""),
        negative_prompt=form.get("negative_prompt", "").strip() or None,
        model_id=form.get("modelId") or None,
        scheduler=form.get("scheduler") or None,
        preset_style=form.get("presetStyle") or None,
        init_image_id=init_image_id,
        init_strength=floats["init_strength"] if init_image_id else None,
        image_prompts=prompts or None,
        image_prompt_weight=floats["imagePromptWeight"] if prompts else None,
        guidance_scale=floats["guidance_scale"],
        **ints,
    )


def form_from_generation(g: GenerationView) -> dict[str, str]:
    """The form filled with what an earlier generation used (its init image is not carried over: upload it)."""
    values: dict[str, Any] = {
        "prompt": g.prompt,
        "negative_prompt": g.negative_prompt or "",
        "modelId": g.model_id,
        "width": g.width,
        "height": g.height,
        "num_images": g.num_images,
        "num_inference_steps": g.num_inference_steps,
        "guidance_scale": f"{g.guidance_scale:g}",
        "seed": g.seed,
        "scheduler": g.scheduler,
        "presetStyle": g.preset_style,
        "imagePrompts": " ".join(g.image_prompt_ids),
        "imagePromptWeight": "" if g.image_prompt_weight is None else f"{g.image_prompt_weight:g}",
    }
    return {k: str(v) for k, v in values.items()}
