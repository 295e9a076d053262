"""Train the shipped platform elements on the Starter and write models/elements.

    python scripts/train_elements.py              # train all three (one torch thread), samples, manifest, effects
    python scripts/train_elements.py --only pastel --out /tmp/elements
    python scripts/train_elements.py --eval-only  # re-measure the shipped files

Each element is a style LoRA (no instance token) trained by sfumato.engine.lora_train on styled renders of
the Starter's world (sfumato.starter.element_styles) with the world's own captions. Writes, per element,
<slug>/pytorch_lora_weights.safetensors and <slug>/sample.png (four held-out prompts at the default weight),
the manifest elements.json (what GET /elements lists) and effects.json (the effect scalar against weight, and
two elements combined). Figures: docs/elements-training.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "models" / "starter"
OUT = ROOT / "models" / "elements"

ELEMENTS = [
    {
        "akUUID": "802c69e4-c875-474a-ae67-a91ff95fc776",
        "slug": "outlined",
        "name": "Ink Outline",
        "description": "Draws every shape with a dark ink outline, like a sticker or a comic panel.",
        # a thin feature at the objects: more steps, the loss weighted to the objects' boxes
        "recipe": {"steps": 600, "learning_rate": 1e-3, "object_weight": 3.0},
    },
    {
        "akUUID": "d5016a86-7c26-4271-955a-d18a74d2d92a",
        "slug": "pinstripe",
        "name": "Pinstripe Backdrop",
        "description": "Paints the background with bold horizontal stripes in a darker shade of its colour.",
    },
    {
        "akUUID": "3157822a-d903-40d5-94aa-1fb89a96bdec",
        "slug": "pastel",
        "name": "Pastel Palette",
        "description": "Softens every colour towards white: a light, pastel version of the scene.",
    },
]
N_IMAGES = 64
STEPS = 400
RANK = 8
LR = 5e-4
SEED = 0
SAMPLE_PROMPTS = [
    "a large red heart in the center, on a blue background",
    "a yellow star on the left and a green circle on the right, on a purple background",
    "a large orange diamond at the top, on a cyan background",
    "a pink square in the bottom right corner, on a gray background",
]
WEIGHTS = (0.0, 0.5, 1.0, 1.5)
PAIRS = (("outlined", "pinstripe"), ("outlined", "pastel"))  # measured applied together at weight 1 each
N_EVAL = 24
EVAL_SEED = 4321


def starter_model_id() -> str:
    catalog = json.loads((ROOT / "src" / "sfumato" / "catalog" / "platform.json").read_text())
    return next(m["id"] for m in catalog if m["path"] == "models/starter")


def element_spec_for(slug: str):
    from sfumato.engine.lora_train import element_spec
    from sfumato.starter.element_styles import styled_dataset

    images, captions = styled_dataset(slug, N_IMAGES, SEED)
    spec = element_spec(STARTER, images, None, "Style", train_text_encoder=False)
    recipe = {"steps": STEPS, "rank": RANK, "learning_rate": LR, "seed": SEED}
    recipe.update(next(e for e in ELEMENTS if e["slug"] == slug).get("recipe", {}))
    return replace(spec, captions=captions, **recipe)


def generate(pipe, prompts, seeds) -> list[np.ndarray]:
    from sfumato.engine.concept_eval import generate as gen

    return gen(pipe, prompts, seeds)


def write_sample(images: list[np.ndarray], path: Path, cell: int = 128) -> None:
    """A 2x2 grid of 32x32 generations, each upscaled (nearest) to cell x cell."""
    grid = Image.new("RGB", (2 * cell, 2 * cell))
    for i, im in enumerate(images[:4]):
        grid.paste(
            Image.fromarray(im).resize((cell, cell), Image.Resampling.NEAREST), ((i % 2) * cell, (i // 2) * cell)
        )
    grid.save(path, optimize=True)


def measure(out: Path, slugs: list[str]) -> dict:
    """Effect vs weight for each element, background fidelity, and the PAIRS applied together."""
    from sfumato.starter.checker import read_scene
    from sfumato.starter.element_styles import effect, eval_prompts
    from sfumato.starter.model import load_pipeline

    pipe = load_pipeline(STARTER)
    prompts = eval_prompts(N_EVAL)
    seeds = [EVAL_SEED + i for i in range(N_EVAL)]
    for slug in slugs:
        pipe.load_lora_weights(str(out / slug), weight_name="pytorch_lora_weights.safetensors", adapter_name=slug)
    pipe.disable_lora()
    base = generate(pipe, prompts, seeds)
    pipe.enable_lora()
    result: dict = {"prompts": N_EVAL, "weights": list(WEIGHTS), "elements": {}}

    def fidelity(imgs: list[np.ndarray]) -> float:
        # share of images whose background the checker reads as the base model's own reading
        return float(
            np.mean([read_scene(a).background == read_scene(b).background for a, b in zip(imgs, base, strict=True)])
        )

    for slug in slugs:
        rows = []
        for w in WEIGHTS:
            pipe.set_adapters([slug], [w])
            imgs = generate(pipe, prompts, seeds)
            rows.append({"weight": w, "effect": round(effect(slug, imgs, base), 4), "same_background": fidelity(imgs)})
        result["elements"][slug] = rows
        print(slug, rows, flush=True)
    result["combined"] = []
    for pair in PAIRS:
        if not set(pair) <= set(slugs):
            continue
        pipe.set_adapters(list(pair), [1.0, 1.0])
        both = generate(pipe, prompts, seeds)
        row = {"elements": list(pair), "weights": [1.0, 1.0]}
        for slug in pair:
            row[slug] = round(effect(slug, both, base), 4)
            row[f"{slug}_alone"] = next(r["effect"] for r in result["elements"][slug] if r["weight"] == 1.0)
            row[f"{slug}_base"] = round(effect(slug, base, base), 4)
        result["combined"].append(row)
        print("combined", row, flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--only", action="append", help="train only this slug (repeatable)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-only", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from sfumato.engine.lora_train import train_lora
    from sfumato.starter.model import load_pipeline

    out: Path = a.out
    out.mkdir(parents=True, exist_ok=True)
    chosen = [e for e in ELEMENTS if not a.only or e["slug"] in a.only]
    times = {}
    if not a.eval_only:
        for e in chosen:
            slug = e["slug"]
            work = ROOT / "runs" / "elements" / slug  # checkpoints (git-ignored)
            t0 = time.monotonic()
            weights = train_lora(
                element_spec_for(slug),
                work,
                progress=lambda s, n, m, slug=slug: (
                    print(f"{slug} {s}/{n} loss {m['loss']:.4f}", flush=True) if s % 100 == 0 else None
                ),
            )
            times[slug] = round(time.monotonic() - t0, 1)
            (out / slug).mkdir(exist_ok=True)
            (out / slug / "pytorch_lora_weights.safetensors").write_bytes(weights.read_bytes())
            pipe = load_pipeline(STARTER)
            pipe.load_lora_weights(str(out / slug), weight_name="pytorch_lora_weights.safetensors", adapter_name=slug)
            pipe.set_adapters([slug], [1.0])
            write_sample(generate(pipe, SAMPLE_PROMPTS, list(range(len(SAMPLE_PROMPTS)))), out / slug / "sample.png")
            print(f"{slug}: trained in {times[slug]} s", flush=True)
    manifest = [
        {
            "akUUID": e["akUUID"],
            "name": e["name"],
            "description": e["description"],
            "baseModel": "v1_5",
            "base_model_id": starter_model_id(),
            "weightMin": 0,
            "weightMax": 2,
            "weightDefault": 1,
            "file": f"{e['slug']}/pytorch_lora_weights.safetensors",
            "sample": f"{e['slug']}/sample.png",
            "instance_token": None,
        }
        for e in ELEMENTS
        if (out / e["slug"] / "pytorch_lora_weights.safetensors").exists()
    ]
    (out / "elements.json").write_text(json.dumps(manifest, indent=2) + "\n")
    slugs = [e["slug"] for e in ELEMENTS if (out / e["slug"] / "pytorch_lora_weights.safetensors").exists()]
    effects = measure(out, slugs)
    effects["recipe"] = {"images": N_IMAGES, "steps": STEPS, "rank": RANK, "learning_rate": LR, "seed": SEED}
    effects["recipe_overrides"] = {e["slug"]: e["recipe"] for e in ELEMENTS if "recipe" in e}
    previous = (
        json.loads((out / "effects.json").read_text()).get("train_s", {}) if (out / "effects.json").exists() else {}
    )
    effects["train_s"] = {**previous, **times}  # seconds per element, from the run that trained it
    effects["threads"] = a.threads
    (out / "effects.json").write_text(json.dumps(effects, indent=2) + "\n")


if __name__ == "__main__":
    main()
