"""Elements benchmark: seconds per generation with 0, 1 and 2 elements (LoRAs) through the server (POST ->
COMPLETE -> PNG downloaded) next to plain diffusers doing the same on the same pipeline in this process: the
LoRAs loaded once (not timed), then per image `set_adapters` (or `disable_lora`), the call, the resize to the
requested size and the PNG encode. Also what switching the active LoRAs costs the engine.

    python bench/bench_elements.py                    # the Starter and two LoRAs made for it, 20 steps
    python bench/bench_elements.py --runs 9
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from sfumato.engine.adapters import LoraAdapter, ResidentAdapters
from sfumato.testing.live_server import LiveServer, free_port, server_env
from sfumato.testing.loras import random_lora

REPO = Path(__file__).resolve().parents[1]
STARTER = REPO / "models" / "starter"
STARTER_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"
ELEMENTS = ("5b0c8f3e-1111-4a5b-9c6d-000000000001", "5b0c8f3e-1111-4a5b-9c6d-000000000002")
SIZE, STEPS, GUIDANCE = 256, 20, 5.0
PROMPT = "a red circle on the left on a blue background"


def make_catalog(tmp: Path) -> tuple[Path, list[Path]]:
    """An operator's catalog folder with two elements (random LoRAs on the Starter: timing, not looks)."""
    catalog = tmp / "catalog"
    folder = catalog / "elements"
    files, entries = [], []
    for n, ak in enumerate(ELEMENTS):
        files.append(random_lora(STARTER, folder / f"e{n}", seed=n, rank=8, scale=0.05))
        entries.append(
            {"akUUID": ak, "name": f"bench {n}", "baseModel": "v1_5", "base_model_id": STARTER_ID,
             "file": f"e{n}/pytorch_lora_weights.safetensors"}
        )  # fmt: skip
    (folder / "elements.json").write_text(json.dumps(entries))
    return catalog, files


def server_image(client: httpx.Client, elements: int, seed: int) -> float:
    body = {
        "prompt": PROMPT,
        "num_images": 1,
        "width": SIZE,
        "height": SIZE,
        "num_inference_steps": STEPS,
        "guidance_scale": GUIDANCE,
        "seed": seed,
        "elements": [{"akUUID": a} for a in ELEMENTS[:elements]],
    }
    started = time.perf_counter()
    gid = client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
    while (gen := client.get(f"/generations/{gid}").json()["generations_by_pk"])["status"] == "PENDING":
        time.sleep(0.05)
    assert gen["status"] == "COMPLETE", gen
    httpx.get(gen["generated_images"][0]["url"]).raise_for_status()
    return time.perf_counter() - started


def plain_image(pipe: StableDiffusionPipeline, elements: int, seed: int) -> float:
    started = time.perf_counter()
    if elements:
        pipe.enable_lora()
        pipe.set_adapters([f"e{n}" for n in range(elements)], adapter_weights=[1.0] * elements)
    else:
        pipe.disable_lora()
    with torch.inference_mode():
        image = pipe(
            PROMPT, width=32, height=32, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
            generator=torch.Generator("cpu").manual_seed(seed),
        ).images[0]  # fmt: skip
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    image.save(io.BytesIO(), format="PNG", compress_level=1)
    return time.perf_counter() - started


def switching_ms(pipe: StableDiffusionPipeline, files: list[Path], repeats: int = 20) -> tuple[float, float]:
    """The engine's own adapter step (ResidentAdapters.apply): first load of two LoRAs, then a switch."""
    resident = ResidentAdapters()
    two = tuple(LoraAdapter(f, 1.0) for f in files)
    started = time.perf_counter()
    resident.apply(pipe, two)
    first = (time.perf_counter() - started) * 1000
    times = []
    for n in range(repeats):
        started = time.perf_counter()
        resident.apply(pipe, two[: n % 3])  # 0, 1, 2 elements in turn
        times.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        catalog, files = make_catalog(tmp)
        server = LiveServer(server_env(tmp / "data", catalog, STARTER_ID), free_port(), tmp / "log")
        server.start()
        try:
            client = server.client("bench")
            pipe = StableDiffusionPipeline.from_pretrained(STARTER, local_files_only=True, dtype=torch.float32)
            pipe.set_progress_bar_config(disable=True)
            for n, f in enumerate(files):
                pipe.load_lora_weights(str(f.parent), weight_name=f.name, adapter_name=f"e{n}", low_cpu_mem_usage=False)
            for count in (0, 1, 2):  # warm-up: the server loads the model and the LoRAs on first use
                server_image(client, count, 0)
                plain_image(pipe, count, 0)
            timings: dict[int, tuple[list[float], list[float]]] = {c: ([], []) for c in (0, 1, 2)}
            for n in range(args.runs):  # interleaved, so background load hits both alike
                for count in (0, 1, 2):
                    timings[count][0].append(server_image(client, count, n))
                    timings[count][1].append(plain_image(pipe, count, n))
        finally:
            server.stop()
        fresh = StableDiffusionPipeline.from_pretrained(STARTER, local_files_only=True, dtype=torch.float32)
        first_ms, switch_ms = switching_ms(fresh, files)
    print(f"{'seconds per image, median':32}{'sfumato server':>16}{'plain diffusers':>17}{'ratio':>8}")
    ratios = []
    for count, (server_s, plain_s) in timings.items():
        s, p = statistics.median(server_s), statistics.median(plain_s)
        print(f"{f'{count} elements':32}{s:>16.3f}{p:>17.3f}{s / p:>8.2f}")
        detail = f"server {s:.3f} s vs plain diffusers {p:.3f} s per {SIZE}px image, {STEPS} steps"
        ratios.append({"measure": f"seconds per image, {count} elements", "ratio": s / p, "detail": detail})
    print(f"engine: first load of two LoRAs {first_ms:.0f} ms; switching the active set {switch_ms:.1f} ms (median)")
    if args.ratios_json:
        args.ratios_json.write_text(json.dumps(ratios))


if __name__ == "__main__":
    main()
