"""Write a platform model's sample image (the picture on its card in the web app's Models page), made by the
model itself through the engine the server runs: four prompts, fixed seeds, at the model's native size, as a
2x2 grid.

    python scripts/make_model_sample.py                   # the bundled Starter -> src/sfumato/catalog/samples/
    python scripts/make_model_sample.py MODEL_ID          # any catalog model -> its folder's sample.png
    python scripts/make_model_sample.py MODEL_ID --out x.png --prompt "a lighthouse" --prompt "a red fox"

The Starter's prompts are the ones its elements' samples use (scripts/train_elements.py), so the cards compare.
An operator's model gets generic prompts unless --prompt is given; the catalog picks up `sample.png` in the
model's folder (or an entry's "sample" path) at its next read: docs/models.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from PIL import Image

from sfumato.engine.engine import Engine
from sfumato.engine.types import GenerateRequest
from sfumato.services.catalog import REPO_ROOT, ModelEntry, entry_from_dict

BUILTIN = REPO_ROOT / "src" / "sfumato" / "catalog" / "platform.json"
STARTER_OUT = REPO_ROOT / "src" / "sfumato" / "catalog" / "samples" / "starter.png"
STARTER_PROMPTS = [  # scripts/train_elements.py's SAMPLE_PROMPTS: the world's own words
    "a large red heart in the center, on a blue background",
    "a yellow star on the left and a green circle on the right, on a purple background",
    "a large orange diamond at the top, on a cyan background",
    "a pink square in the bottom right corner, on a gray background",
]
GENERIC_PROMPTS = [
    "a lighthouse on a cliff at dusk",
    "a red fox in the snow",
    "a bowl of fruit on a wooden table",
    "a city street at night, rain",
]
CELL = 128  # a 32x32 Starter picture is shown 4x (nearest): the card's sample is 256x256


def find_entry(model_id: str | None, catalog_dir: Path | None) -> ModelEntry:
    raws = [(raw, REPO_ROOT) for raw in json.loads(BUILTIN.read_text())]
    if catalog_dir is not None:
        for file in sorted(catalog_dir.glob("*.json")):
            raw = json.loads(file.read_text())
            raws += [(item, file.parent) for item in (raw if isinstance(raw, list) else [raw])]
    wanted = model_id or raws[0][0]["id"]  # the first built-in entry is the Starter
    for raw, base in raws:
        if raw["id"] == wanted:
            return entry_from_dict(raw, base)
    raise SystemExit(f"no catalog entry {wanted}; pass --catalog-dir for an operator's catalog folder")


def render(entry: ModelEntry, prompts: list[str], steps: int | None, guidance: float | None) -> Image.Image:
    engine = Engine(memory_budget_bytes=4 << 30, num_threads=1)
    width, height = entry.native_size or (entry.default_width, entry.default_height)
    cell = max(CELL, width, height)
    grid = Image.new("RGB", (2 * cell, 2 * cell))
    for i, prompt in enumerate(prompts[:4]):
        request = GenerateRequest(
            model_path=entry.path, prompt=prompt, width=width, height=height, seed=i,
            num_inference_steps=steps or entry.recommended_steps or 20,
            guidance_scale=guidance or entry.recommended_guidance or 7.0,
        )  # fmt: skip
        image = engine.generate(request).images[0].convert("RGB")
        grid.paste(image.resize((cell, cell), Image.Resampling.NEAREST), ((i % 2) * cell, (i // 2) * cell))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_id", nargs="?", help="a catalog model's id (default: the bundled Starter)")
    parser.add_argument("--catalog-dir", type=Path, help="an operator's catalog folder (SFUMATO_CATALOG_DIR)")
    parser.add_argument(
        "--out", type=Path, help="where to write it (default: the Starter's asset, else FOLDER/sample.png)"
    )
    parser.add_argument("--prompt", action="append", help="up to four prompts (default: four for the model)")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--guidance", type=float)
    args = parser.parse_args()
    torch.set_num_threads(1)
    entry = find_entry(args.model_id, args.catalog_dir)
    starter = entry.path == (REPO_ROOT / "models" / "starter").resolve()
    prompts = args.prompt or (STARTER_PROMPTS if starter else GENERIC_PROMPTS)
    out = args.out or (STARTER_OUT if starter else entry.path / "sample.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    render(entry, prompts, args.steps, args.guidance).save(out, optimize=True)
    print(f"{entry.name} ({entry.id}): {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
