"""Image-to-video on a Stable Video Diffusion folder (an operator's SVD / SVD-XT, or our Starter Motion), and
the MP4 that carries it: H.264, yuv420p, faststart, so every browser plays it and can start before the end."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

MOTION_SETTINGS_FILE = "sfumato_motion.json"  # what a motion folder says about itself (our training writes it)
VIDEO_PIPELINES = ("StableVideoDiffusionPipeline",)
MIN_PLAYER_SIDE = 480  # tiny native videos are enlarged (nearest: flat shapes stay crisp) to this short side


def motion_bucket(strength: int) -> int:
    """Leonardo's motionStrength (1-10, default 5) as SVD's motion_bucket_id: 5 is SVD's default 127."""
    return max(1, min(255, round(127 * strength / 5)))


@dataclass(frozen=True)
class MotionSettings:
    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    min_guidance_scale: float
    max_guidance_scale: float
    noise_aug_strength: float
    # (width, height) sizes the folder was trained at besides the native one (Starter Motion: 40x32, 32x40)
    buckets: tuple[tuple[int, int], ...] = ()

    def size_for(self, aspect: float | None) -> tuple[int, int]:
        """The native size or the bucket whose width/height ratio is closest to `aspect` (None: native)."""
        sizes = [(self.width, self.height), *self.buckets]
        if aspect is None or aspect <= 0:
            return sizes[0]
        return min(sizes, key=lambda wh: abs(math.log(wh[0] / wh[1]) - math.log(aspect)))


def read_motion_settings(folder: Path, unet_frames: int | None = None) -> MotionSettings:
    """`sfumato_motion.json` when present; else what the stock pipeline assumes (SVD: 1024x576, 7 fps)."""
    raw = _motion_json(folder)
    # Starter Motion nests its guidance under "recommended_guidance"; a hand-written file may not.
    guidance = {**raw, **(raw.get("recommended_guidance") or {})}
    width, height = int(raw.get("native_width", 1024)), int(raw.get("native_height", 576))
    buckets = tuple((int(w), int(h)) for w, h in raw.get("buckets", []) if (int(w), int(h)) != (width, height))
    return MotionSettings(
        width=width,
        height=height,
        num_frames=int(raw.get("num_frames", unet_frames or 14)),
        fps=int(raw.get("fps", 7)),
        steps=int(raw.get("recommended_steps", 25)),
        min_guidance_scale=float(guidance.get("min_guidance_scale", 1.0)),
        max_guidance_scale=float(guidance.get("max_guidance_scale", 3.0)),
        noise_aug_strength=float(raw.get("noise_aug_strength", 0.02)),
        buckets=buckets,
    )


def _motion_json(folder: Path) -> dict:
    try:
        raw = json.loads((folder / MOTION_SETTINGS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def follows_prompt_direction(folder: Path) -> bool:
    """Whether the folder can take a motion direction from a prompt: Starter Motion's layout (a text encoder and
    tokenizer beside the stock SVD parts, and the directions it was trained on). A stock SVD folder cannot."""
    return (
        bool(_motion_json(folder).get("directions"))
        and (folder / "text_encoder").is_dir()
        and (folder / "tokenizer").is_dir()
    )


def is_video_folder(folder: Path) -> bool:
    try:
        index = json.loads((folder / "model_index.json").read_text())
    except (OSError, ValueError):
        return False
    return index.get("_class_name") in VIDEO_PIPELINES


@dataclass(frozen=True)
class MotionRequest:
    model_path: Path
    image: Image.Image
    motion_strength: int = 5
    seed: int = 0
    # A canonical direction ("left", "up right": starter.motion.clips.DIRECTIONS) for a folder that follows one.
    direction: str | None = None
    # Width / height the video should have; picks the folder's closest bucket (None: the native size).
    aspect: float | None = None


@dataclass
class MotionResult:
    frames: list[Image.Image]
    fps: int
    motion_bucket_id: int
    steps: int


def player_size(width: int, height: int) -> tuple[int, int]:
    """The MP4's size: the frames' own, enlarged by a whole factor until the short side reaches 480, even."""
    factor = max(1, math.ceil(MIN_PLAYER_SIDE / min(width, height)))
    return (width * factor) // 2 * 2, (height * factor) // 2 * 2


def short_side_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) scaled so the short side is `short_side`, both even (H.264 needs it)."""
    scale = short_side / min(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def interpolated(frames: list[Image.Image]) -> list[Image.Image]:
    """A blended frame between each two (2n - 1 frames): played at twice the fps, the clip keeps its length and
    moves in half-steps. Linear blending, not motion estimation: fine for the small moves of short clips."""
    out = [frames[0]]
    for before, after in zip(frames, frames[1:], strict=False):
        out += [Image.blend(before.convert("RGB"), after.convert("RGB"), 0.5), after]
    return out


def upscaled(frames: list[Image.Image], short_side: int) -> list[Image.Image]:
    """Frames with their short side at `short_side` (Lanczos), both sides even (H.264 needs it)."""
    size = short_side_size(*frames[0].size, short_side)
    return [frame.resize(size, Image.Resampling.LANCZOS) for frame in frames]


def decode_mp4(data: bytes) -> tuple[list[Image.Image], int]:
    """(RGB frames, frames per second) of an MP4 this server made."""
    import io

    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        fps = round(float(stream.average_rate or 8))
        frames = [frame.to_image().convert("RGB") for frame in container.decode(stream)]
    return frames, fps


def encode_mp4(frames: list[Image.Image], fps: int, size: tuple[int, int] | None = None) -> tuple[bytes, int, int]:
    """(MP4 bytes, width, height): H.264 High, yuv420p, crf 18, `moov` before `mdat` (faststart), at `size`
    (even sides) or else `player_size`. PyAV is imported only here: only motion jobs need FFmpeg."""
    width, height = size or player_size(*frames[0].size)
    if width % 2 or height % 2:
        raise ValueError(f"H.264 needs even sides, got {width}x{height}")
    # A real file: faststart moves `moov` to the front in a second pass over the written file.
    with tempfile.TemporaryDirectory(prefix="sfumato-mp4-") as tmp:
        path = Path(tmp) / "video.mp4"
        _write_mp4(path, frames, fps, width, height)
        return path.read_bytes(), width, height


def _write_mp4(path: Path, frames: list[Image.Image], fps: int, width: int, height: int) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "medium", "profile": "high"}
        for frame in frames:
            rgb = np.asarray(frame.convert("RGB").resize((width, height), Image.Resampling.NEAREST))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
