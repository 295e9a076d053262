"""The universal upscaler's settings: Leonardo's knobs -> what the engine's tiled upscale does with them
(engine/tiled_upscale.py). Every field does what docs/realtime.md says or is refused with a 400 naming it.

- upscaleMultiplier 1.0-2.0 (default 1.5): the output is round(width * m) x round(height * m) of the input,
  the long side capped at 2048 (never smaller than the input).
- creativityStrength 1-10 (default 5): image-to-image strength of the tile refinement, 0.05 + 0.045 * c
  (c=1: 0.095, c=5: 0.275, c=10: 0.5). More creativity lets the model redraw more of each tile.
- upscalerStyle (legacy; default GENERAL): a phrase added to the refinement prompt (none on a model that takes
  no style words, such as the Starter).
- ultraUpscaleStyle ARTISTIC | REALISTIC (Ultra): wins over upscalerStyle (the SDK always sends GENERAL);
  ARTISTIC multiplies the strength by 1.2, REALISTIC by 0.8, and adds its phrase.
- similarity 1-10 (Ultra only): how close to stay to the input: the strength is multiplied by
  1.45 - 0.09 * s (s=1: 1.36, s=5: 1.0, s=10: 0.55).
- detailContrast 1-10 (Ultra only): how much of the refinement's fine detail is kept: 0.1 + 0.09 * d
  (d=1: 0.19, d=5: 0.55, d=10: 1.0); 0.5 without it.
- prompt: the refinement prompt (default: the source generation's prompt; none for an uploaded image).
The strength is finally clipped to 0.05-0.75.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfumato.services.errors import InvalidRequest

UPSCALER_STYLES = {
    "GENERAL": "",
    "2D ART & ILLUSTRATION": "2D illustration, clean line art",
    "CINEMATIC": "cinematic, film still",
    "CG ART & GAME ASSETS": "CG art, game asset, crisp render",
    "REALISTIC": "photorealistic, natural texture",
}
ULTRA_STYLES = {"ARTISTIC": ("artistic, painterly detail", 1.2), "REALISTIC": ("photorealistic, fine texture", 0.8)}
MAX_PROMPT = 1500


@dataclass(frozen=True)
class UniversalParams:
    generated_image_id: str | None = None
    init_image_id: str | None = None
    variation_id: str | None = None
    upscale_multiplier: float | None = None
    creativity_strength: int | None = None
    upscaler_style: str | None = None
    ultra_upscale_style: str | None = None
    similarity: int | None = None
    detail_contrast: int | None = None
    prompt: str | None = None


def _int_1_10(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or not 1 <= value <= 10:
        raise InvalidRequest(f"{field} is {value!r}; send an integer from 1 to 10", field=field)
    return int(value)


def source_of(p: UniversalParams) -> tuple[str, str]:
    """(which field, its id): exactly one of generatedImageId, initImageId, variationId."""
    given = [(f, v) for f, v in (("generatedImageId", p.generated_image_id), ("initImageId", p.init_image_id),
                                 ("variationId", p.variation_id)) if isinstance(v, str) and v.strip()]  # fmt: skip
    if len(given) != 1:
        what = "none" if not given else " and ".join(f for f, _ in given)
        raise InvalidRequest(
            f"send exactly one of generatedImageId (an image of GET /generations/{{id}}), initImageId (an upload of "
            f"POST /init-image) or variationId (the id of an earlier variation); got {what}",
            field=given[1][0] if len(given) > 1 else "generatedImageId",
        )
    return given[0][0], given[0][1].strip()


def settings_for(p: UniversalParams, style_words: bool) -> dict[str, Any]:
    """What the job runs with (stored on the row): multiplier, strength, detail weight, prompt suffix. The job
    sizes the output from its input's real size (engine/postprocess.upscale_size)."""
    m = 1.5 if p.upscale_multiplier is None else p.upscale_multiplier
    if isinstance(m, bool) or not 1.0 <= m <= 2.0:
        raise InvalidRequest(f"upscaleMultiplier is {m!r}; send a number from 1.0 to 2.0", field="upscaleMultiplier")
    creativity = _int_1_10("creativityStrength", p.creativity_strength) or 5
    similarity = _int_1_10("similarity", p.similarity)
    detail = _int_1_10("detailContrast", p.detail_contrast)
    ultra = (p.ultra_upscale_style or "").strip().upper() or None
    if ultra is not None and ultra not in ULTRA_STYLES:
        raise InvalidRequest(
            f"ultraUpscaleStyle {p.ultra_upscale_style!r} is unknown; send ARTISTIC or REALISTIC (or leave it out)",
            field="ultraUpscaleStyle",
        )
    if ultra is None and (similarity is not None or detail is not None):
        field = "similarity" if similarity is not None else "detailContrast"
        raise InvalidRequest(f"{field} applies to Ultra upscales only; send it with ultraUpscaleStyle "
                             "ARTISTIC or REALISTIC, or leave it out", field=field)  # fmt: skip
    style = (p.upscaler_style or "GENERAL").strip().upper()
    if ultra is None and style not in UPSCALER_STYLES:
        raise InvalidRequest(
            f"upscalerStyle {p.upscaler_style!r} is unknown; send one of {', '.join(UPSCALER_STYLES)}",
            field="upscalerStyle",
        )
    prompt = (p.prompt or "").strip()
    if len(prompt) > MAX_PROMPT:
        raise InvalidRequest("Invalid prompt, maximum length of 1500 characters exceeded.", field="prompt")
    strength = 0.05 + 0.045 * creativity
    phrase = UPSCALER_STYLES.get(style, "")
    if ultra is not None:
        phrase, factor = ULTRA_STYLES[ultra]
        strength *= factor * (1.45 - 0.09 * similarity if similarity is not None else 1.0)
    return {
        "multiplier": m,
        "strength": round(min(0.75, max(0.05, strength)), 4),
        "detail": round(0.1 + 0.09 * detail, 4) if detail is not None else 0.5,
        "style": ultra or style,
        "ultra": ultra is not None,
        "prompt_suffix": phrase if style_words else "",
        "prompt": prompt or None,
    }
