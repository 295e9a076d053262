"""Held-out evaluation: render held-out captions with fixed seeds and read the scenes back from pixels."""

from __future__ import annotations

import json
import random
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .checker import Score, read_scene, score
from .model import load_pipeline
from .recipe import to_tensor
from .world import SHAPES, Scene, caption, heldout_scenes, render

EVAL_SEED = 1234


@dataclass
class EvalResult:
    scores: list[Score] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    buckets: list[tuple[int, int]] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    guidance: float = 0.0
    steps: int = 0
    autoencoder: bool = False  # scored the VAE's reconstructions of the true scenes, not generations

    def metrics(self, bucket: tuple[int, int] | None = None) -> dict[str, float]:
        idx = [i for i, b in enumerate(self.buckets) if bucket is None or b == bucket]
        sc = [self.scores[i] for i in idx]
        objs = [(s, k) for s in sc for k in range(len(s.color))]
        two = [s for s, sn in zip(sc, [self.scenes[i] for i in idx], strict=True) if len(sn.objects) == 2]
        one = [s for s in sc if len(s.color) == 1]

        def pct(xs: list[bool]) -> float:
            return 100.0 * sum(xs) / max(1, len(xs))

        return {
            "n": len(sc),
            "background": pct([s.background for s in sc]),
            "color": pct([s.color[k] for s, k in objs]),
            "shape": pct([s.shape[k] for s, k in objs]),
            "position": pct([s.position[k] for s, k in objs]),
            "one_all_right": pct([s.all_right for s in one]),
            "two_n": len(two),
            "two_each_object": pct([s.color[k] and s.shape[k] and s.position[k] for s in two for k in range(2)]),
            "two_all_right": pct([s.all_right for s in two]),
        }

    def shape_by_kind(self) -> dict[str, float]:
        """Shape adherence per true shape, all buckets (where the shape misses are)."""
        hits: dict[str, list[bool]] = {s: [] for s in SHAPES}
        for sc, scene in zip(self.scores, self.scenes, strict=True):
            for k, obj in enumerate(scene.objects):
                hits[obj.shape].append(sc.shape[k])
        return {s: 100.0 * sum(h) / len(h) for s, h in hits.items() if h}


def eval_buckets(buckets: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """Half of the scenes at the square bucket, the rest spread over the others."""
    out = []
    for i in range(n):
        out.append(buckets[0] if i % 2 == 0 or len(buckets) == 1 else buckets[1 + (i // 2) % (len(buckets) - 1)])
    return out


@torch.no_grad()
def evaluate(
    model: Path,
    n: int = 200,
    steps: int = 20,
    guidance: float | None = None,
    bucket: str = "all",
    grid_path: Path | None = None,
    batch: int = 16,
    autoencoder: bool = False,
    lora: Path | None = None,
) -> EvalResult:
    """Generate the n held-out scenes from their captions and score the pixels. With autoencoder, score the
    VAE's encode/decode of the true images instead: the most any UNet on that VAE can reach. With `lora` (a
    custom model's or element's weights file), at weight 1: does the base's bar still hold with it applied?"""
    info = json.loads((model / "sfumato_model.json").read_text())
    buckets = [tuple(b) for b in info["buckets"]]
    if bucket != "all":
        w, h = (int(v) for v in bucket.lower().split("x"))
        buckets = [(w, h)]
    guidance = guidance if guidance is not None else float(info["recommended_guidance"])
    pipe = load_pipeline(model)
    if lora is not None:
        pipe.load_lora_weights(str(lora.parent), weight_name=lora.name, adapter_name="applied")
        pipe.set_adapters(["applied"], [1.0])
    scenes = list(heldout_scenes(n, EVAL_SEED))
    res = EvalResult(guidance=guidance, steps=steps, autoencoder=autoencoder)
    res.scenes, res.buckets = scenes, eval_buckets(buckets, n)
    res.captions = [caption(s, random.Random(EVAL_SEED + i)) for i, s in enumerate(scenes)]
    res.scores = [None] * n  # type: ignore[list-item]
    images: list[np.ndarray | None] = [None] * n
    for b in sorted(set(res.buckets)):
        idx = [i for i in range(n) if res.buckets[i] == b]
        for k in range(0, len(idx), batch):
            chunk = idx[k : k + batch]
            if autoencoder:
                out = _reconstruct(pipe, [render(scenes[i], b[0], b[1], random.Random(EVAL_SEED + i)) for i in chunk])
            else:
                out = pipe(
                    [res.captions[i] for i in chunk],
                    width=b[0],
                    height=b[1],
                    num_inference_steps=steps,
                    guidance_scale=guidance,
                    generator=[torch.Generator().manual_seed(EVAL_SEED + i) for i in chunk],
                    output_type="np",
                ).images
            for i, img in zip(chunk, out, strict=True):
                arr = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
                images[i] = arr
                res.scores[i] = score(scenes[i], read_scene(arr))
    if grid_path:
        write_grid([images[i] for i in range(min(n, 24))], res.captions[:24], grid_path)
    return res


def _reconstruct(pipe, images: list[np.ndarray]) -> np.ndarray:
    """The VAE's decode(encode(x)) of uint8 images, as floats in [0, 1] like the pipeline's np output."""
    x = to_tensor(images)
    y = pipe.vae.decode(pipe.vae.encode(x.to(pipe.device)).latent_dist.mean).sample
    return ((y.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).cpu().numpy()


def write_grid(images: list, captions: list[str], path: Path, cols: int = 6, cell: int = 192) -> None:
    """Samples upscaled (nearest) with their captions underneath."""
    rows = (len(images) + cols - 1) // cols
    text_h = 52
    grid = Image.new("RGB", (cols * cell, rows * (cell + text_h)), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for i, (img, cap) in enumerate(zip(images, captions, strict=True)):
        im = Image.fromarray(img)
        scale = cell / max(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.NEAREST)
        x, y = (i % cols) * cell, (i // cols) * (cell + text_h)
        grid.paste(im, (x + (cell - im.width) // 2, y + (cell - im.height) // 2))
        draw.multiline_text((x + 3, y + cell + 2), "\n".join(textwrap.wrap(cap, 34)[:4]), fill=(0, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)


def format_table(res: EvalResult) -> str:
    head = (
        "| set | n | background | colour | shape | position | one object all right "
        "| two objects: each object / fully right |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]

    def row(name: str, m: dict) -> str:
        return (
            f"| {name} | {m['n']} | {m['background']:.1f}% | {m['color']:.1f}% | {m['shape']:.1f}% | "
            f"{m['position']:.1f}% | {m['one_all_right']:.1f}% | {m['two_each_object']:.1f}% / "
            f"{m['two_all_right']:.1f}% (n={m['two_n']}) |"
        )

    lines.append(row("all held-out", res.metrics()))
    buckets = sorted(set(res.buckets))
    if len(buckets) > 1:
        lines += [row(f"{w}x{h}", res.metrics((w, h))) for w, h in buckets]
    kinds = ", ".join(f"{k} {v:.0f}%" for k, v in res.shape_by_kind().items())
    lines.append(f"\nshape by kind: {kinds}")
    if res.autoencoder:
        lines.append("autoencoder only: encode/decode of the true held-out images (no generation)")
    else:
        lines.append(
            f"{res.steps} steps, guidance {res.guidance:g}, seeds {EVAL_SEED}+i, held-out (colour, shape) pairs"
        )
    return "\n".join(lines)
