"""Scale-out throughput: the same batch of generations on 1, 2 and 3 Celery workers (tiny SD 1.5 model,
one torch thread per worker), through a real API host on PostgreSQL with Redis as the broker.

Each round starts a fresh cluster (sfumato.testing.cluster), warms every worker with one job, then submits
--jobs generations at once and times them from the first POST until the last is COMPLETE. Prints images per
minute for each worker count, the scaling ratio against one worker, the mean time a worker spent on one job
(claim to COMPLETE, from the runners' log lines) and the share of the round's worker time that went to jobs (the rest
is queue, database and process overhead, plus waiting for a core).

The default job is heavy enough (about 3 s of compute on one core) that the queue's own overhead is
small next to it. On a CPU host the ratio is bounded by the cores: N workers on C cores cannot exceed
min(N, C)x, and the API host, PostgreSQL and Redis share those cores too. Run it where each worker has a core
(or a GPU) of its own to see the design's scaling.

    python bench/bench_scaleout.py                    # 16 jobs of 4 images, 256x256, 30 steps, 1-3 workers
    python bench/bench_scaleout.py --jobs 24 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never downloads

import httpx  # noqa: E402

from sfumato.engine.tiny import build_tiny_sd15  # noqa: E402
from sfumato.testing.cluster import Cluster, cluster_env, running_cluster, scratch_database, scratch_redis  # noqa: E402
from sfumato.testing.live_server import TINY_MODEL_ID, cli  # noqa: E402


def submit(client: httpx.Client, body: dict) -> str:
    r = client.post("/generations", json=body)
    r.raise_for_status()
    return r.json()["sdGenerationJob"]["generationId"]


def job_seconds(c: Cluster, ids: list[str]) -> float:
    """Mean seconds a worker spent inside one job, from the runners' own log lines ("... COMPLETE in 1.23s")."""
    wanted = set(ids)
    found = [float(m[2]) for m in re.finditer(r"generation (\S+) COMPLETE in ([\d.]+)s", c.logs()) if m[1] in wanted]
    assert len(found) == len(wanted), f"{len(found)} of {len(wanted)} job times in the worker logs"
    return sum(found) / len(found)


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


def one_round(catalog: Path, workers: int, args: argparse.Namespace) -> tuple[float, float]:
    """(seconds for `args.jobs` generations on `workers` workers, mean seconds of one job on a worker)."""
    body = {
        "prompt": "a red circle",
        "modelId": TINY_MODEL_ID,
        "width": args.size,
        "height": args.size,
        "num_images": args.images,
        "num_inference_steps": args.steps,
    }
    with tempfile.TemporaryDirectory() as tmp, scratch_database("sfumato_bench") as pg, scratch_redis() as broker:
        root = Path(tmp)
        unlimited = {"SFUMATO_RATE_LIMIT_JOBS_PER_MINUTE": "100000", "SFUMATO_MAX_PENDING_PER_USER": "100000"}
        # One thread per worker, for torch and for the BLAS/OpenMP pools under it (cluster_env sets torch's).
        threads = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env = cluster_env(root / "data", catalog, pg, broker, SFUMATO_LOG_LEVEL="INFO", **unlimited, **threads)
        with running_cluster(env, root, pg, 1, [[TINY_MODEL_ID]] * workers) as c:
            client = c.apis[0].client("bench")
            client.timeout = 60
            # Slots above the worker count: the user's concurrency cap must not be what limits the round.
            cli(env, "users", "set", "bench", "--slots", str(workers * 4))
            wait_all(c, [submit(client, body) for _ in range(workers)], 300)  # warm every worker
            start = time.monotonic()
            ids = [submit(client, body) for _ in range(args.jobs)]
            wait_all(c, ids, 1800)
            return time.monotonic() - start, job_seconds(c, ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=16, help="generations per round")
    parser.add_argument("--images", type=int, default=4, help="images per generation")
    parser.add_argument("--steps", type=int, default=30, help="inference steps per generation")
    parser.add_argument("--size", type=int, default=256, help="width and height of the images")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3], help="worker counts to compare")
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_sd15(Path(tmp) / "tiny-sd15", seed=0)  # no buckets: renders at --size
        catalog = Path(tmp) / "catalog"
        catalog.mkdir()
        (catalog / "tiny.json").write_text(
            f'[{{"id": "{TINY_MODEL_ID}", "name": "Tiny", "description": "tiny", "path": "{model}", '
            '"recommended_steps": 10}]'
        )
        results = {n: one_round(catalog, n, args) for n in args.workers}
    images = args.jobs * args.images
    cores = len(os.sched_getaffinity(0))
    base = images / results[args.workers[0]][0] * 60
    print(
        f"\n{args.jobs} generations x {args.images} images, {args.size}x{args.size}, {args.steps} steps, "
        f"tiny SD 1.5, 1 torch thread per worker, {cores} CPU cores on this host"
    )
    print(
        f"{'workers':>7} | {'seconds':>8} | {'images/min':>10} | {'scaling':>8} | {'bound':>6} | "
        f"{'s/job':>6} | {'busy':>5}"
    )
    print("-" * 70)
    for n, (seconds, per_job) in results.items():
        rate = images / seconds * 60
        busy = args.jobs * per_job / (n * seconds)  # share of the workers' time spent inside jobs
        print(
            f"{n:>7} | {seconds:>8.1f} | {rate:>10.1f} | {rate / base:>7.2f}x | {min(n, cores):>5}x | "
            f"{per_job:>6.2f} | {busy:>5.0%}"
        )
    print(
        f"scaling: images/min against {args.workers[0]} worker(s); bound: min(workers, cores), the most a CPU "
        f"host can give;\ns/job: a worker's mean time inside one job (it grows when workers share a core); "
        f"busy: share of worker time inside jobs."
    )
    if args.ratios_json:
        ratios = [
            {
                "measure": f"images/min, {n} vs {args.workers[0]} worker(s)",
                "ratio": args.jobs * args.images / seconds * 60 / base,
                "detail": f"{args.jobs * args.images / seconds * 60:.1f} images/min; bound {min(n, cores)}x",
            }
            for n, (seconds, _) in results.items()
            if n != args.workers[0]  # the baseline itself
        ]
        args.ratios_json.write_text(json.dumps(ratios))


if __name__ == "__main__":
    main()
