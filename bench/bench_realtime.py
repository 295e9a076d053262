"""The realtime canvas on the Starter: latency per request (512x512 data URL in, 4 steps, JPEG data URL out)
through Sfumato's path (services/realtime_inputs.py decoding, engine/realtime.py on the cached Engine, encoding)
next to plain diffusers doing the same few-step img2img (StableDiffusionImg2ImgPipeline on the same folder, the
same Euler scheduler, steps, strength, guidance and render size, the same resizes), and the few-step samplers
compared by the Starter's checker (held-out scenes, sketched as a canvas would send them).

    python bench/bench_realtime.py [--threads 2] [--requests 20] [--scenes 40]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionImg2ImgPipeline
from PIL import Image, ImageFilter

from sfumato.engine.engine import Engine
from sfumato.engine.realtime import RealtimeRenderer, RealtimeRequest
from sfumato.engine.types import GenerateRequest
from sfumato.services.realtime_inputs import decode_data_url, encode_data_url
from sfumato.starter import checker, world

ROOT = Path(__file__).resolve().parents[1]
SIZE, STEPS, STRENGTH, GUIDANCE = 512, 4, 0.65, 5.0


def sketch(scene: world.Scene, seed: int) -> Image.Image:
    arr = world.render(scene, 32, 32, random.Random(seed))
    return world.to_pil(arr).filter(ImageFilter.GaussianBlur(1.5)).resize((SIZE, SIZE), Image.Resampling.BILINEAR)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "starter")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--scenes", type=int, default=40, help="held-out scenes per sampler for the quality table")
    ap.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    scenes = world.heldout_scenes(max(args.scenes, 4), seed=77)
    prompt = world.canonical_caption(scenes[0])
    url = encode_data_url(sketch(scenes[0], 0))

    engine = Engine(1 << 30, num_threads=args.threads)
    renderer = RealtimeRenderer(engine)

    def ours(i: int) -> None:
        image = decode_data_url(url, "imageDataUrl")
        request = RealtimeRequest(args.model, prompt, image, SIZE, SIZE, STEPS, STRENGTH, GUIDANCE, seed=i)
        encode_data_url(renderer.render(request)[0])

    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(args.model, safety_checker=None, torch_dtype=torch.float32)
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    native = json.loads((args.model / "sfumato_model.json").read_text())
    render = (native["native_width"], native["native_height"])

    def plain(i: int) -> None:
        image = decode_data_url(url, "imageDataUrl").resize(render, Image.Resampling.LANCZOS)
        with torch.inference_mode():
            out = pipe(
                prompt,
                image=image,
                strength=STRENGTH,
                num_inference_steps=math.ceil(STEPS / STRENGTH),
                guidance_scale=GUIDANCE,
                generator=torch.Generator().manual_seed(i),
            ).images[0]
        encode_data_url(out.resize((SIZE, SIZE), Image.Resampling.LANCZOS))

    timings: dict[str, list[float]] = {}
    for name, fn in (("sfumato realtime", ours), ("plain diffusers img2img", plain)):
        fn(0)  # warm-up: loading, first-call allocations
        times = []
        for i in range(args.requests):
            t = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - t)
        timings[name] = times
    print(f"model {args.model.name}, {SIZE}x{SIZE} data URL in and out, {STEPS} steps, strength {STRENGTH}, "
          f"{args.threads} threads, {args.requests} requests")  # fmt: skip
    for name, times in timings.items():
        q = statistics.quantiles(times, n=10)
        print(f"{name:26s} median {statistics.median(times) * 1000:6.1f} ms   p90 {q[-1] * 1000:6.1f} ms")

    print(f"\nfew-step samplers at {STEPS} steps on {args.scenes} held-out scenes (checker: scene fully right)")
    for strength in (1.0, STRENGTH):
        for scheduler in ("EULER_DISCRETE", "DPM_SOLVER", "EULER_ANCESTRAL_DISCRETE", "LEONARDO", "DDIM"):
            right = 0
            for i, scene in enumerate(scenes[: args.scenes]):
                out = engine.generate(
                    GenerateRequest(
                        model_path=args.model,
                        prompt=world.canonical_caption(scene),
                        width=SIZE,
                        height=SIZE,
                        num_inference_steps=math.ceil(STEPS / strength),
                        guidance_scale=GUIDANCE,
                        seed=i,
                        scheduler=scheduler,
                        init_image=sketch(scene, i),
                        strength=strength,
                    )
                ).images[0]
                small = np.asarray(out.resize((32, 32), Image.Resampling.LANCZOS))
                right += checker.score(scene, checker.read_scene(small)).all_right
            print(f"strength {strength:4.2f}  {scheduler:26s} {right:3d}/{args.scenes}")

    if args.ratios_json:
        a, b = statistics.median(timings["sfumato realtime"]), statistics.median(timings["plain diffusers img2img"])
        detail = f"{a * 1000:.0f} ms vs {b * 1000:.0f} ms per 512x512 request, {STEPS} steps (Starter)"
        args.ratios_json.write_text(
            json.dumps([{"measure": "realtime canvas / plain diffusers", "ratio": a / b, "detail": detail}])
        )


if __name__ == "__main__":
    main()
