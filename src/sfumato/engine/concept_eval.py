"""The custom-model bar, measured from pixels: teach the Starter a shape it cannot draw (a ring) under a
reserved token, then count rings on held-out prompts and re-check ordinary held-out scenes.

- `render_concept_dataset(n, seed)`: n rendered 32x32 rings (a disc minus a half-diameter hole; large;
  random colour, position and other-coloured background), the dataset a user would upload.
- `concept_rate(images)`: the share of images whose main object is a ring: the disc of radius 0.09 W
  around its bounding-box centre is more than half made of pixels nearer the background's colour than the
  object's (rendered rings 100%, the base model's circles 0%).
- `heldout_prompts(n, seed)`: (colour, position, background) triples that are not in the dataset, with
  positions cycling through all nine, phrased "a <colour> <token> <position>,
  on a <background> background".
- `train_and_eval(...)`: trains a LoRA with a spec and prints base-vs-trained: ring rate, object colour
  right, held-out Starter scenes fully right (world.heldout_scenes, the checker), train time.

`python -m sfumato.engine.concept_eval --steps 800 --rank 16` reproduces the figures in
docs/elements-training.md.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sfumato.starter.checker import _components, read_scene, score
from sfumato.starter.world import (
    COLOR_NAMES,
    COLORS,
    Obj,
    _canon_pos,
    _jitter,
    caption,
    heldout_scenes,
    object_geometry,
    shape_coverage,
)

STARTER = Path(__file__).resolve().parents[3] / "models" / "starter"
ALL_POSITIONS = ("center", "left", "right", "top", "bottom", "top left", "top right", "bottom left", "bottom right")
TRAIN_POSITIONS = ALL_POSITIONS
HOLE_RADIUS = 0.09  # of the width: the disc that must be background-coloured for a ring
EVAL_SEED = 1234
TOKEN = "<s5>"


def render_ring(color: str, position: str, background: str, width: int, height: int, rng: random.Random) -> np.ndarray:
    """RGB uint8 image of a large ring (disc minus a concentric disc of half the diameter)."""
    cx, cy, d = object_geometry(Obj("circle", color, position, "large"), width, height, rng)
    cov = shape_coverage("circle", cx, cy, d, width, height) - shape_coverage("circle", cx, cy, d / 2, width, height)
    cov = np.clip(cov, 0.0, 1.0)[..., None]
    img = np.empty((height, width, 3), np.float32)
    img[:] = _jitter(COLORS[background], rng)
    img = img * (1 - cov) + _jitter(COLORS[color], rng) * cov
    return np.round(img).astype(np.uint8)


def concept_triples(n: int, seed: int) -> list[tuple[str, str, str]]:
    """n distinct (colour, position, background) triples of the dataset."""
    rng = random.Random(f"concept-{seed}")
    out: list[tuple[str, str, str]] = []
    while len(out) < n:
        color = rng.choice(COLOR_NAMES)
        t = (color, rng.choice(TRAIN_POSITIONS), rng.choice([c for c in COLOR_NAMES if c != color]))
        if t not in out:
            out.append(t)
    return out


def render_concept_dataset(n: int = 16, seed: int = 0, size: int = 32) -> list[Image.Image]:
    """n ring images (the dataset of the bar: 12-20 images)."""
    rng = random.Random(f"concept-render-{seed}")
    return [Image.fromarray(render_ring(c, p, b, size, size, rng)) for c, p, b in concept_triples(n, seed)]


def heldout_prompts(n: int, seed: int = 0, token: str = TOKEN) -> list[tuple[str, tuple[str, str, str]]]:
    """n (prompt, (colour, position, background)) pairs whose triple is not in the dataset of `seed`;
    positions cycle through all nine."""
    seen = set(concept_triples(64, seed))  # a superset of any dataset of <= 64 images
    rng = random.Random(f"concept-heldout-{seed}")
    out: list[tuple[str, tuple[str, str, str]]] = []
    k = 0
    while len(out) < n:
        pos = ALL_POSITIONS[k % len(ALL_POSITIONS)]
        color = rng.choice(COLOR_NAMES)
        t = (color, pos, rng.choice([c for c in COLOR_NAMES if c != color]))
        if t in seen or t in {x for _, x in out}:
            continue
        k += 1

        out.append((f"a {color} {token} {_canon_pos(pos)}, on a {t[2]} background", t))
    return out


def _main_object(img: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(mask of the largest object component, mask of the pixels nearer the background's colour than the
    object's) or None when there is no object. Colours are the medians of the image's own pixels."""
    reading = read_scene(img, max_objects=1)
    h, w, _ = img.shape
    pix = img.astype(np.float32)
    bg_rgb = np.array(COLORS[reading.background], np.float32)
    near = np.sqrt(((pix - bg_rgb) ** 2).sum(-1)) <= 60.0
    if near.any():
        bg_rgb = np.median(pix[near], axis=0)
    diff = np.sqrt(((pix - bg_rgb) ** 2).sum(-1))
    comps = [c for c in _components(diff > 40.0) if len(c) >= 0.012 * h * w]
    if not comps:
        return None
    comp = max(comps, key=len)
    mask = np.zeros((h, w), bool)
    mask[comp[:, 0], comp[:, 1]] = True
    obj_rgb = np.median(pix[mask], axis=0)
    bg_like = diff < np.sqrt(((pix - obj_rgb) ** 2).sum(-1))
    return mask, bg_like


def is_ring(img: np.ndarray) -> bool:
    """The main object's bounding-box centre disc (radius HOLE_RADIUS * width) is more than half made of
    pixels nearer the background's colour than the object's."""
    found = _main_object(img)
    if found is None:
        return False
    mask, bg_like = found
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.min() + ys.max() + 1) / 2, (xs.min() + xs.max() + 1) / 2
    gy, gx = np.mgrid[0:h, 0:w] + 0.5
    disc = (gx - cx) ** 2 + (gy - cy) ** 2 <= (HOLE_RADIUS * w) ** 2
    if not disc.any():
        return False
    return float(bg_like[disc].mean()) > 0.5


def concept_rate(images: Sequence[np.ndarray | Image.Image]) -> float:
    """Share of images (uint8 arrays or PIL) whose main object is a ring."""
    arrs = [np.asarray(im.convert("RGB")) if isinstance(im, Image.Image) else im for im in images]
    return sum(is_ring(a) for a in arrs) / max(1, len(arrs))


# --- generation with an adapter -------------------------------------------------------------------------


def generate(
    pipe, prompts: Sequence[str], seeds: Sequence[int], steps: int = 20, guidance: float = 5.0, batch: int = 16
):
    """uint8 (32x32) images of prompts with fixed seeds, in batches."""
    out = []
    for k in range(0, len(prompts), batch):
        imgs = pipe(
            list(prompts[k : k + batch]),
            width=32,
            height=32,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=[torch.Generator().manual_seed(s) for s in seeds[k : k + batch]],
            output_type="np",
        ).images
        out += [np.clip(np.round(i * 255), 0, 255).astype(np.uint8) for i in imgs]
    return out


@dataclass
class ConceptScores:
    weight: float
    ring_rate: float
    color_right: float
    heldout_all_right: float
    n_concept: int
    n_heldout: int


def score_weight(pipe, weight: float | None, n_concept: int = 36, n_heldout: int = 48, token: str = TOKEN):
    """Scores at one adapter weight (None: the pipeline as it is, e.g. the base)."""
    if weight is not None:
        pipe.set_adapters(pipe.get_list_adapters()["unet"][:1], [weight])
    prompts = heldout_prompts(n_concept, token=token)
    imgs = generate(pipe, [p for p, _ in prompts], [EVAL_SEED + i for i in range(n_concept)])
    colors = []
    for im, (_, (c, _, _)) in zip(imgs, prompts, strict=True):
        r = read_scene(im, max_objects=1)
        colors.append(bool(r.objects) and r.objects[0].color == c)
    scenes = list(heldout_scenes(n_heldout, EVAL_SEED))
    caps = [caption(s, random.Random(EVAL_SEED + i)) for i, s in enumerate(scenes)]
    himgs = generate(pipe, caps, [EVAL_SEED + i for i in range(n_heldout)])
    right = [score(s, read_scene(im)).all_right for s, im in zip(scenes, himgs, strict=True)]
    return ConceptScores(
        weight=weight if weight is not None else 0.0,
        ring_rate=concept_rate(imgs),
        color_right=sum(colors) / n_concept,
        heldout_all_right=sum(right) / n_heldout,
        n_concept=n_concept,
        n_heldout=n_heldout,
    ), imgs


def train_and_eval(
    out_dir: Path,
    base_dir: Path = STARTER,
    n_images: int = 16,
    data_seed: int = 0,
    weights: Sequence[float] = (0.0, 1.0),
    n_concept: int = 36,
    n_heldout: int = 48,
    grid: bool = True,
    **spec_overrides,
) -> dict:
    """Train a custom model (custom_model_spec's recipe, with overrides) on the ring dataset, evaluate at
    each weight, print a table and write out_dir/concept_eval.json."""
    from sfumato.engine.lora_train import WEIGHTS_NAME, custom_model_spec, train_lora
    from sfumato.starter.evaluate import write_grid
    from sfumato.starter.model import load_pipeline

    spec = custom_model_spec(base_dir, render_concept_dataset(n_images, data_seed), TOKEN)
    spec = replace(spec, **spec_overrides)
    t0 = time.monotonic()
    last = {"t": t0}

    def progress(step: int, total: int, m: dict) -> None:
        if step % 100 == 0 or step == total:
            now = time.monotonic()
            print(f"  step {step}/{total} loss {m['loss']:.4f} ({now - last['t']:.1f} s)", flush=True)
            last["t"] = now

    path = train_lora(spec, out_dir, progress=progress)
    train_s = time.monotonic() - t0
    pipe = load_pipeline(base_dir)
    pipe.load_lora_weights(str(path.parent), weight_name=WEIGHTS_NAME, adapter_name="concept")
    rows = []
    for w in weights:
        sc, imgs = score_weight(pipe, w, n_concept, n_heldout)
        rows.append(sc)
        if grid:
            caps = [p for p, _ in heldout_prompts(n_concept)]
            write_grid(imgs[:24], caps[:24], out_dir / f"grid_w{w:g}.png")
    settings = {k: v for k, v in vars(spec).items() if k not in ("images", "base_dir", "captions")}
    result = {
        "settings": settings,
        "n_images": n_images,
        "train_s": round(train_s, 1),
        "s_per_step": round(train_s / spec.steps, 3),
        "threads": torch.get_num_threads(),
        "rows": [vars(r) for r in rows],
    }
    (out_dir / "concept_eval.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(format_table(result))
    return result


def format_table(result: dict) -> str:
    s = result["settings"]
    head = (
        f"rank {s['rank']}, lr {s['learning_rate']:g}, {s['steps']} steps, batch {s['batch_size']}, "
        f"prior {s['prior_preservation']} ({s['prior_fraction']}), text encoder {s['train_text_encoder']}; "
        f"{result['n_images']} images; train {result['train_s']} s ({result['s_per_step']} s/step, "
        f"{result['threads']} thread(s))"
    )
    lines = [head, "| weight | ring rate | colour right | held-out Starter scenes fully right |", "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(
            f"| {r['weight']:g} | {100 * r['ring_rate']:.1f}% (n={r['n_concept']}) | {100 * r['color_right']:.1f}% "
            f"| {100 * r['heldout_all_right']:.1f}% (n={r['n_heldout']}) |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - the measurement run
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/concept_eval"))
    ap.add_argument("--steps", type=int)
    ap.add_argument("--rank", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--prior-fraction", type=float)
    ap.add_argument("--no-prior", action="store_true")
    ap.add_argument("--object-weight", type=float)
    ap.add_argument("--text-encoder", action="store_true")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-concept", type=int, default=36)
    ap.add_argument("--n-heldout", type=int, default=48)
    ap.add_argument("--weights", default="0,1")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    over: dict = {}
    for key, val in (("steps", a.steps), ("rank", a.rank), ("learning_rate", a.lr), ("batch_size", a.batch)):
        if val is not None:
            over[key] = val
    if a.prior_fraction is not None:
        over["prior_fraction"] = a.prior_fraction
    if a.object_weight is not None:
        over["object_weight"] = a.object_weight
    if a.no_prior:
        over["prior_preservation"] = False
    if a.text_encoder:
        over["train_text_encoder"] = True
    weights = [float(w) for w in a.weights.split(",")]
    train_and_eval(a.out, n_images=a.images, weights=weights, n_concept=a.n_concept, n_heldout=a.n_heldout, **over)


if __name__ == "__main__":  # pragma: no cover
    main()
