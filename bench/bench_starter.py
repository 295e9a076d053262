"""Inference time of the shipped Starter model on this CPU: one image at the native size with 20 steps,
and the per-image time at batch 4.

    python bench/bench_starter.py [--model models/starter] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from sfumato.starter.model import load_pipeline

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "starter")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    info = json.loads((args.model / "sfumato_model.json").read_text())
    w, h, g = info["native_width"], info["native_height"], info["recommended_guidance"]
    pipe = load_pipeline(args.model)
    prompt = "a red circle on the left and a blue star on the right, on a white background"

    def once(batch: int) -> float:
        t = time.perf_counter()
        with torch.no_grad():
            pipe(
                [prompt] * batch,
                width=w,
                height=h,
                num_inference_steps=args.steps,
                guidance_scale=g,
                generator=[torch.Generator().manual_seed(i) for i in range(batch)],
            )
        return time.perf_counter() - t

    once(1)  # warm-up (allocator, first-call overheads)
    one = [once(1) for _ in range(args.repeats)]
    four = [once(4) / 4 for _ in range(args.repeats)]
    print(f"model {args.model.name}: {w}x{h}, {args.steps} steps, guidance {g}, {args.threads} threads")
    print(f"one image:            median {statistics.median(one):.3f} s  (min {min(one):.3f} s)")
    print(f"per image at batch 4: median {statistics.median(four):.3f} s  (min {min(four):.3f} s)")
    if args.ratios_json:
        one_s, four_s = statistics.median(one), statistics.median(four)
        detail = f"{four_s:.3f} s per image at batch 4 vs {one_s:.3f} s alone ({w}x{h}, {args.steps} steps)"
        args.ratios_json.write_text(
            json.dumps([{"measure": "per image, batch 4 / batch 1", "ratio": four_s / one_s, "detail": detail}])
        )


if __name__ == "__main__":
    main()
