"""Cross-request batching benchmark: single-image requests from 1 and from 4 concurrent clients, on a server that
runs every job alone (SFUMATO_BATCH_IMAGES=1) next to one that batches waiting jobs (the default, 4).

Each client posts a generation (its own prompt and seed), polls it every 50 ms until COMPLETE, downloads the
image, and posts the next; throughput is images per second over the whole run. The ratio that matters is 4
clients batched vs 4 clients unbatched (issue 20 asks >= 1.4).

    python bench/bench_batching.py                  # the Starter when present, else a tiny model built in code
    python bench/bench_batching.py --requests 12 --size 256 --steps 20
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never downloads
ROOT = Path(__file__).resolve().parents[1]


from sfumato.engine.tiny import build_tiny_sd15  # noqa: E402
from sfumato.settings import STARTER_MODEL_ID  # noqa: E402
from sfumato.testing.live_server import LiveServer, free_port, generate_and_download, server_env  # noqa: E402

STARTER = ROOT / "models" / "starter"
PROMPTS = ("a red circle on the left", "a blue star at the top", "a green heart in the center", "a pink square")


def catalog_of(tmp: Path) -> tuple[Path, str, str]:
    catalog = tmp / "catalog"
    catalog.mkdir()
    if (STARTER / "model_index.json").is_file():
        entry = {"id": STARTER_MODEL_ID, "name": "Sfumato Starter", "description": "", "path": str(STARTER)}
    else:
        folder = build_tiny_sd15(tmp / "tiny", seed=0, buckets=[[64, 64]], block_channels=(64, 128))
        entry = {
            "id": "00000000-0000-4000-8000-0000000000b1",
            "name": "Tiny SD 1.5",
            "description": "",
            "path": str(folder),
        }
    entry["recommended_steps"] = 20
    (catalog / "bench.json").write_text(json.dumps([entry]))
    return catalog, str(entry["id"]), str(entry["name"])


def throughput(server: LiveServer, clients: int, requests: int, body: dict) -> float:
    """Images per second with `clients` closed-loop clients sharing `requests` requests."""
    done = 0
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        nonlocal done
        client = server.client(f"bench{index}")
        n = 0
        while True:
            with lock:
                if done >= requests:
                    return
                done += 1
            generate_and_download(
                client, {**body, "prompt": PROMPTS[(index + n) % len(PROMPTS)], "seed": 100 * index + n}
            )
            n += 1

    for index in range(clients):
        server.user(f"bench{index}")  # accounts made before the clock starts
    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return requests / (time.perf_counter() - started)


def measure(tmp: Path, catalog: Path, model_id: str, batch: int, requests: int, body: dict) -> dict[int, float]:
    env = server_env(tmp / f"data-{batch}", catalog, default_model_id=model_id)
    env["SFUMATO_BATCH_IMAGES"] = str(batch)
    env["SFUMATO_LOG_LEVEL"] = "WARNING"
    server = LiveServer(env, free_port(), tmp / f"log-{batch}")
    server.start()
    try:
        generate_and_download(
            server.client("warm"), {**body, "prompt": PROMPTS[0], "seed": 1}
        )  # the model's first load
        return {clients: throughput(server, clients, requests, body) for clients in (1, 4)}
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=24, help="requests per measurement")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        catalog, model_id, name = catalog_of(tmp)
        body = {"modelId": model_id, "width": args.size, "height": args.size, "num_images": 1}
        body["num_inference_steps"] = args.steps
        alone = measure(tmp, catalog, model_id, 1, args.requests, body)
        batched = measure(tmp, catalog, model_id, 4, args.requests, body)
    print(f"model: {name}; {args.requests} single-image requests of {args.size}x{args.size}, {args.steps} steps")
    print(f"{'images/s':24}{'each job alone':>16}{'batched (4)':>14}{'ratio':>8}")
    for clients in (1, 4):
        ratio = batched[clients] / alone[clients]
        label = f"{clients} client{'s' if clients > 1 else ''}"
        print(f"{label:24}{alone[clients]:>16.2f}{batched[clients]:>14.2f}{ratio:>8.2f}")
    print(f"4 clients vs 1, batched: {batched[4] / batched[1]:.2f}x; alone: {alone[4] / alone[1]:.2f}x")
    if args.ratios_json:
        ratios = [
            {
                "measure": f"throughput, {clients} client(s), batched vs alone",
                "ratio": batched[clients] / alone[clients],
                "detail": f"{batched[clients]:.2f} vs {alone[clients]:.2f} images/s",
            }
            for clients in (1, 4)
        ]
        args.ratios_json.write_text(json.dumps(ratios))


if __name__ == "__main__":
    main()
