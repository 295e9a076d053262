"""Held-out evaluation: generate clips of held-out scenes and read every frame back with the Starter's checker.

Per clip (score_clip):
- frame 0 matches the input: background, and each object's colour, shape and grid position, as the checker
  reads them, equal the scene's;
- the last frame keeps background, object count, colours and shapes (positions have moved);
- direction: each object, found by colour in frame 0 and the last frame, moved at least MIN_MOVE pixels
  and within 22.5 degrees of the expected direction (the nearest of the 8 directions is the expected one);
- displacement: the objects' mean displacement along the expected direction, frame 0 to the last frame, in
  pixels (negative when they went the other way).
Per scene (SVD path, no prompt): clips at motionStrength 1, 5 and 10; direction is scored at 5 and 10 (at 1
the move is ~1.3 px, too small to read an angle from), and displacement must grow 1 < 5 < 10.
Image-to-video: one clip per scene at strength 5 with a prompt naming a direction that has room to move.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..checker import read_scene, score
from ..world import Scene
from .clips import DIRECTION_PHRASES, Clip, feasible_directions, implied_direction, motion_scene, render_clip, unit
from .model import MotionPipeline

EVAL_SEED = 4321
MIN_MOVE = 0.5  # pixels: below this a move has no readable direction
STRENGTHS = (1, 5, 10)
DIRECTION_STRENGTHS = (5, 10)
PROMPTS = ("moving {}", "the shape slides to the {}", "{}", "drifting towards the {}")


@dataclass
class ClipScore:
    frame0: bool
    last_kept: bool
    direction: bool
    displacement: float  # pixels along the expected direction; nan when an object was not found


def _centroids(frame: np.ndarray, scene: Scene) -> list[tuple[float, float] | None]:
    """Each scene object's centroid in pixels, found by its colour (None if the checker finds no such object)."""
    h, w, _ = frame.shape
    det = read_scene(frame, max_objects=len(scene.objects)).objects
    out: list[tuple[float, float] | None] = []
    for obj in scene.objects:
        hit = next((d for d in det if d.color == obj.color), None)
        out.append((hit.centroid[0] * w, hit.centroid[1] * h) if hit else None)
    return out


def score_clip(scene: Scene, frames: np.ndarray, expected: str) -> ClipScore:
    """frames: uint8 (F, H, W, 3). `expected`: the canonical direction the clip should move in."""
    first = score(scene, read_scene(frames[0], max_objects=len(scene.objects)))
    last = score(scene, read_scene(frames[-1], max_objects=len(scene.objects)))
    kept = last.background and last.count_ok and all(last.color) and all(last.shape)
    starts, ends = _centroids(frames[0], scene), _centroids(frames[-1], scene)
    ux, uy = unit(expected)
    moves, direction = [], True
    for a, b in zip(starts, ends, strict=True):
        if a is None or b is None:
            return ClipScore(first.all_right, kept, False, float("nan"))
        dx, dy = b[0] - a[0], b[1] - a[1]
        n = math.hypot(dx, dy)
        moves.append((dx, dy))
        if n < MIN_MOVE or (dx * ux + dy * uy) / n < math.cos(math.radians(22.5)):
            direction = False
    mean = np.mean(np.array(moves), axis=0)
    return ClipScore(first.all_right, kept, direction, float(mean[0] * ux + mean[1] * uy))


@dataclass
class MotionEval:
    svd: list[dict[int, ClipScore]] = field(default_factory=list)  # per scene: strength -> score
    i2v: list[ClipScore] = field(default_factory=list)
    buckets: list[tuple[int, int]] = field(default_factory=list)
    seconds_per_clip: float = 0.0
    steps: int = 0
    guidance: float = 1.0

    def metrics(self) -> dict[str, float]:
        def pct(xs: list[bool]) -> float:
            return 100.0 * sum(xs) / max(1, len(xs))

        svd_all = [sc for scene in self.svd for sc in scene.values()]
        grows = [
            all(math.isfinite(s[k].displacement) for k in STRENGTHS)
            and s[1].displacement < s[5].displacement < s[10].displacement
            for s in self.svd
        ]
        disp = {k: _nanmean([s[k].displacement for s in self.svd]) for k in STRENGTHS}
        return {
            "scenes": len(self.svd),
            "svd_frame0": pct([s.frame0 for s in svd_all]),
            "svd_last_kept": pct([s.last_kept for s in svd_all]),
            "svd_direction": pct([s[k].direction for s in self.svd for k in DIRECTION_STRENGTHS]),
            "svd_monotonic": pct(grows),
            **{f"svd_disp_s{k}": v for k, v in disp.items()},
            "i2v_clips": len(self.i2v),
            "i2v_frame0": pct([s.frame0 for s in self.i2v]),
            "i2v_last_kept": pct([s.last_kept for s in self.i2v]),
            "i2v_direction": pct([s.direction for s in self.i2v]),
            "seconds_per_clip": self.seconds_per_clip,
        }


def _nanmean(xs: list[float]) -> float:
    finite = [x for x in xs if math.isfinite(x)]
    return float(np.mean(finite)) if finite else float("nan")


def eval_cases(n: int) -> list[tuple[Scene, tuple[int, int], str, Clip]]:
    """n fixed held-out scenes: (scene, bucket, the i2v direction, the rendered ground-truth clip at s=5)."""
    rng = random.Random(EVAL_SEED)
    cases = []
    for i in range(n):
        scene = motion_scene(rng, "heldout")
        w, h = ((32, 32), (32, 32), (40, 32), (32, 40))[i % 4]
        direction = rng.choice(feasible_directions(scene))
        truth = render_clip(scene, w, h, random.Random(f"{EVAL_SEED}-{i}"), implied_direction(scene), 5)
        cases.append((scene, (w, h), direction, truth))
    return cases


def _frames(out: np.ndarray) -> np.ndarray:
    return np.round(np.clip(out[0], 0, 1) * 255).astype(np.uint8)


def evaluate(
    model_dir: Path | None,
    n_scenes: int = 50,
    steps: int | None = None,
    guidance: float | None = None,
    i2v: bool = True,
    num_frames: int | None = None,
    progress: bool = False,
) -> MotionEval:
    """Generate and score clips for n held-out scenes. model_dir=None scores the rendered ground-truth clips
    instead (the scorer's ceiling)."""
    pipe = MotionPipeline.load(model_dir) if model_dir else None
    nf = num_frames or (pipe.unet.config.num_frames if pipe else 12)
    steps = steps or 16
    guidance = guidance or 1.0
    res = MotionEval(steps=steps, guidance=guidance)
    spent, clips = 0.0, 0

    def clip(i: int, scene: Scene, size: tuple[int, int], direction: str, s: int, prompt: str | None) -> np.ndarray:
        nonlocal spent, clips
        w, h = size
        if pipe is None:
            return render_clip(scene, w, h, random.Random(f"{EVAL_SEED}-{i}"), direction, s, nf).frames
        image = Image.fromarray(first_frames[i])
        t0 = time.perf_counter()
        with torch.no_grad():
            out = pipe(
                image,
                prompt=prompt,
                height=h,
                width=w,
                num_frames=nf,
                num_inference_steps=steps,
                min_guidance_scale=1.0,
                max_guidance_scale=guidance,
                fps=8,
                motion_bucket_id=round(127 * s / 5),
                noise_aug_strength=0.02,
                decode_chunk_size=nf,
                generator=torch.Generator().manual_seed(EVAL_SEED + 7 * i + s),
                output_type="np",
            ).frames
        spent += time.perf_counter() - t0
        clips += 1
        return _frames(out)

    cases = eval_cases(n_scenes)
    first_frames = [truth.frames[0] for _, _, _, truth in cases]
    for i, (scene, size, direction, _) in enumerate(cases):
        rule = implied_direction(scene)
        res.svd.append({s: score_clip(scene, clip(i, scene, size, rule, s, None), rule) for s in STRENGTHS})
        if i2v:
            prompt = PROMPTS[i % len(PROMPTS)].format(DIRECTION_PHRASES[direction])
            res.i2v.append(score_clip(scene, clip(i, scene, size, direction, 5, prompt), direction))
        res.buckets.append(size)
        if progress:
            print(f"scene {i + 1}/{n_scenes}", flush=True)
    res.seconds_per_clip = spent / max(1, clips)
    return res


BARS = {"frame0": 95.0, "last_kept": 90.0, "direction": 90.0, "monotonic": 90.0}


def format_table(res: MotionEval) -> str:
    m = res.metrics()

    def mark(value: float, bar: float) -> str:
        return f"{value:5.1f}% {'ok' if value >= bar else '--'}"

    lines = [
        f"Starter Motion eval: {m['scenes']} held-out scenes, {res.steps} steps, max guidance {res.guidance}",
        "| path | clips | frame 0 = input | last frame kept | direction | displacement 1<5<10 |",
        "|---|---|---|---|---|---|",
        f"| SVD (implied rule) | {3 * m['scenes']} | {mark(m['svd_frame0'], BARS['frame0'])} | "
        f"{mark(m['svd_last_kept'], BARS['last_kept'])} | {mark(m['svd_direction'], BARS['direction'])} | "
        f"{mark(m['svd_monotonic'], BARS['monotonic'])} |",
    ]
    if m["i2v_clips"]:
        lines.append(
            f"| i2v (prompted) | {m['i2v_clips']} | {mark(m['i2v_frame0'], BARS['frame0'])} | "
            f"{mark(m['i2v_last_kept'], BARS['last_kept'])} | {mark(m['i2v_direction'], BARS['direction'])} | |"
        )
    lines.append(
        f"bars: frame 0 >= {BARS['frame0']:.0f}%, last frame >= {BARS['last_kept']:.0f}%, direction >= "
        f"{BARS['direction']:.0f}%, monotonic >= {BARS['monotonic']:.0f}%"
    )
    disp = ", ".join(f"s={k}: {m[f'svd_disp_s{k}']:.2f} px" for k in STRENGTHS)
    lines.append(f"mean displacement (SVD): {disp}; {m['seconds_per_clip']:.2f} s per clip")
    return "\n".join(lines)


def sample_strip(model_dir: Path, out_png: Path, n_scenes: int = 4, steps: int | None = None, scale: int = 3) -> None:
    """docs/starter-motion-samples.png: the first n eval scenes; per scene three rows (SVD s=5, SVD s=10,
    prompted s=5 "moving {direction}"): the input, a gap, then frames 0..F-1, nearest-neighbour x scale."""
    pipe = MotionPipeline.load(model_dir)
    nf = pipe.unet.config.num_frames
    rows: list[list[np.ndarray]] = []
    seps: list[int] = []
    for i, (_, (w, h), direction, truth) in enumerate(eval_cases(n_scenes)):
        image = Image.fromarray(truth.frames[0])
        for s, prompt in ((5, None), (10, None), (5, f"moving {DIRECTION_PHRASES[direction]}")):
            with torch.no_grad():
                out = pipe(
                    image,
                    prompt=prompt,
                    height=h,
                    width=w,
                    num_frames=nf,
                    num_inference_steps=steps or 16,
                    max_guidance_scale=1.0,
                    fps=8,
                    motion_bucket_id=round(127 * s / 5),
                    noise_aug_strength=0.02,
                    decode_chunk_size=nf,
                    generator=torch.Generator().manual_seed(EVAL_SEED + 7 * i + s),
                    output_type="np",
                ).frames
            rows.append([truth.frames[0], *_frames(out)])
        seps.append(len(rows))
    cell_w, cell_h, gap = 40 * scale, 40 * scale, 2
    width = (nf + 1) * (cell_w + gap) + 8 * scale
    height = len(rows) * (cell_h + gap) + len(seps) * 4 * scale
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    y = 0
    for r, row in enumerate(rows):
        x = 0
        for k, frame in enumerate(row):
            img = Image.fromarray(frame).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
            canvas.paste(img, (x, y))
            x += cell_w + gap + (8 * scale if k == 0 else 0)
        y += cell_h + gap
        if r + 1 in seps:
            canvas.paste((200, 200, 200), (0, y, width, y + 3 * scale))
            y += 4 * scale
    out_png.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out_png)
