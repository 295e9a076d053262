"""Image-to-video and text-to-video requests ("Motion 2.0" on the wire): what they may ask of this server, checked
field by field, and the options their motion job reads.

The prompt directs the motion ("moving left", "rises"): the motion model must follow prompts (Starter Motion's
layout; a stock SVD folder cannot, and gets a 400 that points to POST /generations-motion-svd). Fields that
name video models this server does not have (`model: VEO3`, `duration`, `styleIds`) are accepted and recorded
in the job's options; the generation reports what ran in `motionModel`. Fields that would need machinery this
server lacks (Motion Control `elements`, `endFrameImage`, `promptEnhance`) are refused with a 400 rather than
silently ignored. Text-to-video draws frame 0 with the default image model from the prompt without its motion
words, then animates it like image-to-video."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sfumato.engine.video import read_motion_settings
from sfumato.jobs.handlers.motion import requested_aspect
from sfumato.services.catalog import ModelEntry
from sfumato.services.errors import InvalidRequest
from sfumato.starter.motion.prompt import direction_from_prompt

# Leonardo's video model enum (CreateImageToVideoGenerationString); the SDKs send MOTION2 when it is left out.
VIDEO_MODELS = ("MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5")
DEFAULT_VIDEO_MODEL = "MOTION2"
RESOLUTIONS = {"RESOLUTION_480": 480, "RESOLUTION_720": 720, "RESOLUTION_1080": 1080}
IMAGE_TYPES = ("GENERATED", "UPLOADED")
MAX_SEED = 2_147_483_637  # Motion 2.0's documented maximum
MIN_SIDE, MAX_SIDE = 32, 1920
MAX_DURATION = 60
# Motion words, so that text-to-video's frame 0 is drawn from the scene alone ("a red circle moving left").
_MOTION_PHRASE = re.compile(
    r"\s*,?\s*\b(?:moving|moves|move|going|goes|heading|heads|drifting|drifts|sliding|slides|travelling|traveling|"
    r"rising|rises|falling|falls|sinking|sinks|climbing|climbs|floating|floats|flying|flies|rolling|rolls)\b"
    r"(?:\s+(?:slowly|quickly|fast|up|down|upwards|downwards|leftwards|rightwards|to|towards|toward|into|the|"
    r"top|bottom|left|right|and|side|corner|edge|direction))*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class VideoParams:
    """POST /generations-image-to-video and /generations-text-to-video, in our names."""

    prompt: str | None
    image_id: str | None = None  # image-to-video only
    image_type: str | None = None  # image-to-video only: GENERATED | UPLOADED
    negative_prompt: str | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    resolution: str | None = None
    frame_interpolation: bool | None = None
    model: str | None = None
    duration: int | None = None
    style_ids: tuple[str, ...] = ()
    elements: tuple[Any, ...] = ()
    end_frame_image: Any = None
    prompt_enhance: bool | None = None
    prompt_enhance_instruction: str | None = None
    public: bool | None = None


@dataclass(frozen=True)
class CheckedVideo:
    """A request that passed every check: what the job runs and what it records."""

    prompt: str
    options: dict[str, Any] = field(default_factory=dict)  # what the job reads and records (see below)


def check_video_request(p: VideoParams, motion_model: ModelEntry, text_to_video: bool) -> CheckedVideo:
    """Every field checked against what this server can do; a 400 naming the field otherwise."""
    endpoint = "POST /generations-text-to-video" if text_to_video else "POST /generations-image-to-video"
    if not p.prompt or not p.prompt.strip():
        raise InvalidRequest(
            f'expecting a value for non-nullable variable: "prompt"; {endpoint} needs a prompt, which directs the '
            'motion ("a red circle moving left")',
            field="prompt",
        )
    if not motion_model.follows_prompts:
        raise InvalidRequest(
            f"{endpoint}: the motion model {motion_model.name} ({motion_model.id}) cannot follow a prompt (a stock "
            "Stable Video Diffusion folder); make a video from an image id with POST /generations-motion-svd",
            field="prompt",
        )
    requested = (p.model or DEFAULT_VIDEO_MODEL).strip().upper()
    if requested not in VIDEO_MODELS:
        raise InvalidRequest(f"model must be one of {', '.join(VIDEO_MODELS)}, got {p.model!r}", field="model")
    _refuse_unserved(p, text_to_video)
    if p.seed is not None and not 0 <= p.seed <= MAX_SEED:
        raise InvalidRequest(f"seed must be an integer from 0 to {MAX_SEED}, got {p.seed}", field="seed")
    if p.duration is not None and not 1 <= p.duration <= MAX_DURATION:
        raise InvalidRequest(
            f"duration must be a whole number of seconds from 1 to {MAX_DURATION}, got {p.duration}", field="duration"
        )
    output_size, short_side = _output_size(p)
    direction = direction_from_prompt(p.prompt)
    options: dict[str, Any] = {
        "motion_model": motion_model.name,
        "image_to_video": not text_to_video,
        "text_to_video": text_to_video,
        "requested_model": requested,  # recorded: this server runs its own motion model whatever is named
        "duration": p.duration,  # recorded: the clip's length is the motion model's (sfumato_motion.json)
        "style_ids": list(p.style_ids),  # recorded: no style presets for video here
        "direction": direction,
        "frame_interpolation": bool(p.frame_interpolation),
        "resolution": p.resolution,
        "output_size": list(output_size) if output_size else None,
        "short_side": short_side,
    }
    return CheckedVideo(p.prompt.strip(), options)


def _refuse_unserved(p: VideoParams, text_to_video: bool) -> None:
    if p.elements:
        raise InvalidRequest(
            "elements: Motion Control elements are not served by this server; leave them out and say the "
            'direction in the prompt ("moving left", "to the top right")',
            field="elements",
        )
    if p.end_frame_image is not None:
        raise InvalidRequest(
            "endFrameImage: end frames (KLING2_1) are not served by this server; leave it out", field="endFrameImage"
        )
    if p.prompt_enhance:
        raise InvalidRequest(
            "promptEnhance: prompt enhancement is not served by this server; send promptEnhance false or leave it out",
            field="promptEnhance",
        )
    if p.prompt_enhance_instruction and p.prompt_enhance_instruction.strip():
        raise InvalidRequest(
            "promptEnhanceInstruction: prompt enhancement is not served by this server; leave it out",
            field="promptEnhanceInstruction",
        )
    if not text_to_video and p.negative_prompt and p.negative_prompt.strip():
        raise InvalidRequest(
            "negativePrompt: image-to-video here has nothing a negative prompt could steer (the picture is given); "
            "leave it out (text-to-video uses it for the first frame)",
            field="negativePrompt",
        )


def _output_size(p: VideoParams) -> tuple[tuple[int, int] | None, int | None]:
    """(exact width x height, or None; the short side from `resolution`, or None)."""
    short_side = None
    if p.resolution is not None:
        if p.resolution not in RESOLUTIONS:
            raise InvalidRequest(
                f"resolution must be one of {', '.join(RESOLUTIONS)}, got {p.resolution!r}", field="resolution"
            )
        short_side = RESOLUTIONS[p.resolution]
    if p.width is None and p.height is None:
        return None, short_side
    if p.width is None or p.height is None:
        missing = "width" if p.width is None else "height"
        raise InvalidRequest(f"{missing}: send width and height together, or neither", field=missing)
    for name, value in (("width", p.width), ("height", p.height)):
        if not MIN_SIDE <= value <= MAX_SIDE or value % 2:
            raise InvalidRequest(
                f"{name} must be an even number from {MIN_SIDE} to {MAX_SIDE} (H.264 needs even sides), got {value}",
                field=name,
            )
    if short_side is not None and min(p.width, p.height) != short_side:
        raise InvalidRequest(
            f"resolution {p.resolution} says a short side of {short_side}, but width x height is "
            f"{p.width}x{p.height}; send one of them, or both agreeing",
            field="resolution",
        )
    return (p.width, p.height), short_side


def frame_spec(motion_model: ModelEntry, image_model: ModelEntry, checked: CheckedVideo, negative: str | None) -> dict:
    """Text-to-video's frame 0: drawn by the image model at the motion model's size for the requested aspect."""
    settings = read_motion_settings(motion_model.path)
    width, height = settings.size_for(requested_aspect(checked.options))
    return {
        "model_id": image_model.id,
        "model_path": str(image_model.path),
        "prompt": scene_prompt(checked.prompt),
        "negative_prompt": (negative or "").strip() or None,
        "width": width,
        "height": height,
        "steps": image_model.recommended_steps or 30,
        "guidance": image_model.recommended_guidance or 7.0,
    }


def scene_prompt(prompt: str) -> str:
    """The prompt without its motion words: "a red circle on the left moving right" -> "a red circle on the
    left". A prompt that is only motion words is kept as it is."""
    scene = re.sub(r"\s+", " ", _MOTION_PHRASE.sub("", prompt)).strip(" ,")
    return scene or prompt
