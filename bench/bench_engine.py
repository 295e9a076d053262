"""Engine benchmark: (a) plain diffusers vs Engine.generate on the same model and settings, in the same
process; (b) resident memory after the first load vs after many switches among three models.

    python bench/bench_engine.py                    # tiny models built in a temp dir (or the starter model)
    python bench/bench_engine.py --model DIR --width 512 --height 512 --steps 20

Runs in a minute or two on a 2-core CPU with the defaults.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never downloads

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from diffusers import DiffusionPipeline  # noqa: E402

from sfumato.engine.engine import Engine  # noqa: E402
from sfumato.engine.tiny import build_tiny_sd15  # noqa: E402
from sfumato.engine.types import GenerateRequest  # noqa: E402

STARTER = Path(__file__).resolve().parents[1] / "models" / "starter"
PROMPT = "a red circle at the top on a blue background"


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_generation(model: Path, args: argparse.Namespace, engine: Engine) -> list[tuple[str, str, str, str]]:
    """(a) Cold load and warm generation, plain diffusers vs the engine, interleaved so that background
    load on the machine hits both alike."""
    request = GenerateRequest(
        model_path=model,
        prompt=PROMPT,
        width=args.width,
        height=args.height,
        num_images=args.num_images,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        seed=1234,
    )
    plain_load = time.perf_counter()
    plain = DiffusionPipeline.from_pretrained(model, dtype=torch.float32, local_files_only=True)
    plain.set_progress_bar_config(disable=True)
    plain_load = time.perf_counter() - plain_load
    engine_load = _timed(lambda: engine.preload(model))

    # The engine may render at a bucket size and resize; plain diffusers renders at that same size.
    first = engine.generate(request)
    width, height = first.rendered_width, first.rendered_height

    def run_plain() -> list:
        generators = [torch.Generator("cpu").manual_seed(request.seed + i) for i in range(args.num_images)]
        with torch.inference_mode():
            return plain(
                prompt=PROMPT,
                width=width,
                height=height,
                num_images_per_prompt=args.num_images,
                num_inference_steps=args.steps,
                guidance_scale=args.guidance,
                generator=generators,
            ).images

    plain_images = run_plain()  # warm-up, as the engine had one
    plain_times, engine_times = [], []
    for _ in range(args.repeats):
        plain_times.append(_timed(run_plain))
        engine_times.append(_timed(lambda: engine.generate(request)))
    same = "n/a (resized)"
    if (width, height) == (args.width, args.height):
        diff = np.abs(np.asarray(plain_images[0], np.int16) - np.asarray(first.images[0], np.int16)).max()
        same = "identical" if diff == 0 else f"max diff {diff}"
    # Best-of-N is the figure to compare: the CPU may be shared, and noise only ever adds time.
    p, e = min(plain_times), min(engine_times)
    pm, em = statistics.median(plain_times), statistics.median(engine_times)
    print(f"\n(a) one generation on {model}")
    print(
        f"    {type(plain).__name__}, {args.num_images} image(s) {width}x{height}, {args.steps} steps, "
        f"guidance {args.guidance}, {args.repeats} runs each, interleaved; pixels vs plain: {same}"
    )
    return [
        ("load (cold)", f"{plain_load:.3f} s", f"{engine_load:.3f} s", f"{engine_load / plain_load:.2f}x"),
        ("generate (warm, best)", f"{p:.3f} s", f"{e:.3f} s", f"{e / p:.2f}x"),
        ("generate (warm, median)", f"{pm:.3f} s", f"{em:.3f} s", f"{em / pm:.2f}x"),
    ]


def bench_switching(folder: Path, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    """(b) Three distinct starter-sized models (~16 MiB of fp32 weights each), a budget that holds two:
    cycling a→b→c misses every time, so each switch is an eviction plus a load (the worst case for leaks)."""
    models = [build_tiny_sd15(folder / f"switch-{i}", seed=100 + i, block_channels=(64, 128)) for i in range(3)]
    probe = Engine(memory_budget_bytes=1 << 40, num_threads=args.threads)
    size = probe.cache.get(models[0]).nbytes
    probe.cache.clear()
    del probe
    gc.collect()
    engine = Engine(memory_budget_bytes=int(size * 2.5), num_threads=args.threads)

    def generate(model: Path) -> None:
        engine.generate(GenerateRequest(model_path=model, prompt=PROMPT, width=64, height=64, num_inference_steps=1))

    generate(models[0])
    rss_first = _rss_mb()
    trend: list[str] = []
    start = time.perf_counter()
    for i in range(1, args.switches + 1):
        generate(models[i % 3])
        if i % 10 == 0:
            trend.append(f"{i}: {_rss_mb():.0f}")
    elapsed = time.perf_counter() - start
    gc.collect()
    rss_after = _rss_mb()
    print(
        f"\n(b) {args.switches} switches among 3 models of {size / 2**20:.1f} MiB each, budget "
        f"{engine.cache.memory_budget_bytes / 2**20:.1f} MiB (two fit; every switch evicts and reloads), "
        f"{elapsed:.1f} s, loaded at the end: {[p.name for p in engine.loaded_models()]}"
    )
    print(f"    RSS (MiB) after first load: {rss_first:.0f}; after N switches: {', '.join(trend)}")
    return [
        (
            "process RSS",
            f"{rss_first:.0f} MiB (after first load)",
            f"{rss_after:.0f} MiB (after {args.switches} switches)",
            f"{rss_after / rss_first:.2f}x",
        )
    ]


def _print_table(title: str, header: tuple[str, str, str, str], rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(f"\n{title}\n{line}")
    for row in [header, *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if row is header:
            print(line)
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="diffusers folder for (a); default: starter or tiny")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--num-images", type=int, default=1)
    parser.add_argument("--guidance", type=float, default=7.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--switches", type=int, default=50)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: every core)")
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as tmp:
        folder = Path(tmp)
        model = args.model
        if model is None:
            model = STARTER if (STARTER / "model_index.json").is_file() else build_tiny_sd15(folder / "tiny")
        # Also sets torch's threads, process-wide, for both contenders alike.
        engine = Engine(memory_budget_bytes=1 << 40, num_threads=args.threads)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
        generation_rows = bench_generation(model, args, engine)
        engine.cache.clear()
        del engine
        gc.collect()  # the plain pipeline of (a) goes too, before (b) measures memory
        switching_rows = bench_switching(folder, args)
        _print_table(
            "(a) plain diffusers vs Engine.generate",
            ("", "plain diffusers", "Engine", "Engine / plain"),
            generation_rows,
        )
        _print_table("(b) model switching", ("", "first load", "after switching", "ratio"), switching_rows)
    if args.ratios_json:
        rows = [*generation_rows, *switching_rows]
        ratios = [{"measure": r[0], "ratio": float(r[3].rstrip("x")), "detail": f"{r[2]} vs {r[1]}"} for r in rows]
        args.ratios_json.write_text(json.dumps(ratios))


if __name__ == "__main__":
    main()
