"""Scale-out throughput: the same batch of generations on 1, 2 and 3 Celery workers (tiny SD 1.5 model,
one torch thread per worker), through a real API host on PostgreSQL with Redis as the broker.

Each round starts a fresh cluster (tests/scaleout/harness.py), warms every worker with one job, then submits
--jobs generations at once and times them from the first POST until the last is COMPLETE. Prints images per
minute for each worker count and the scaling ratio against one worker. On a CPU host the ratio is bounded
by the free cores, not by the design: run it where each worker has a core (or a GPU) of its own.

    python bench/bench_scaleout.py                    # 24 jobs of 2 images, 20 steps, 1-3 workers
    python bench/bench_scaleout.py --jobs 48 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from sfumato.engine.tiny import build_tiny_sd15  # noqa: E402
from tests.scaleout.harness import Cluster, cluster_env, running_cluster, scratch_database, scratch_redis  # noqa: E402
from tests.support import TINY_MODEL_ID, cli  # noqa: E402

BUCKETS = [[64, 64]]


def submit(client: httpx.Client, body: dict) -> str:
    r = client.post("/generations", json=body)
    r.raise_for_status()
    return r.json()["sdGenerationJob"]["generationId"]


def wait_all(c: Cluster, ids: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = c.sql("SELECT status FROM generations WHERE id = ANY(%s)", ids)
        if all(status != "PENDING" for (status,) in rows):
            failed = [s for (s,) in rows if s != "COMPLETE"]
            assert not failed, f"{len(failed)} jobs failed\n{c.logs()[-3000:]}"
            return
        time.sleep(0.1)
    raise TimeoutError(f"jobs still PENDING after {timeout}s")


def one_round(catalog: Path, workers: int, args: argparse.Namespace) -> float:
    """Seconds for `args.jobs` generations on `workers` workers."""
    body = {"prompt": "a red circle", "modelId": TINY_MODEL_ID, "width": 64, "height": 64,
            "num_images": args.images, "num_inference_steps": args.steps}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, scratch_database("sfumato_bench") as pg, scratch_redis() as broker:
        root = Path(tmp)
        unlimited = {"SFUMATO_RATE_LIMIT_JOBS_PER_MINUTE": "100000", "SFUMATO_MAX_PENDING_PER_USER": "100000"}
        env = cluster_env(root / "data", catalog, pg, broker, SFUMATO_LOG_LEVEL="WARNING", **unlimited)
        with running_cluster(env, root, pg, 1, [[TINY_MODEL_ID]] * workers) as c:
            client = c.apis[0].client("bench")
            client.timeout = 60
            # Slots above the worker count: the user's concurrency cap must not be what limits the round.
            cli(env, "users", "set", "bench", "--slots", str(workers * 4))
            wait_all(c, [submit(client, body) for _ in range(workers)], 120)  # warm every worker
            start = time.monotonic()
            ids = [submit(client, body) for _ in range(args.jobs)]
            wait_all(c, ids, 600)
            return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=24, help="generations per round")
    parser.add_argument("--images", type=int, default=2, help="images per generation")
    parser.add_argument("--steps", type=int, default=20, help="inference steps per generation")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3], help="worker counts to compare")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_sd15(Path(tmp) / "tiny-sd15", seed=0, buckets=BUCKETS)
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        (catalog / "tiny.json").write_text(
            f'[{{"id": "{TINY_MODEL_ID}", "name": "Tiny", "description": "tiny", "path": "{model}", '
            '"recommended_steps": 10}]'
        )
        results = {n: one_round(catalog, n, args) for n in args.workers}
    images = args.jobs * args.images
    base = images / results[args.workers[0]] * 60
    print(f"\n{args.jobs} generations x {args.images} images, 64x64, {args.steps} steps, tiny SD 1.5, "
          f"SFUMATO_TORCH_THREADS=1, {os.cpu_count()} CPUs on this host")  # fmt: skip
    print(f"{'workers':>7} | {'seconds':>8} | {'images/min':>10} | {'scaling vs ' + str(args.workers[0]):>13}")
    print(f"{'-' * 7}-+-{'-' * 8}-+-{'-' * 10}-+-{'-' * 13}")
    for n, seconds in results.items():
        rate = images / seconds * 60
        print(f"{n:>7} | {seconds:>8.1f} | {rate:>10.1f} | {rate / base:>12.2f}x")


if __name__ == "__main__":
    main()
