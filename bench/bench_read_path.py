"""Read-path benchmark: what every polling client costs. wrk (another process) hammers `GET /generations/{id}`
and `GET /generations/user/{userId}` of a real server, next to a bare FastAPI app on the same uvicorn returning
the same JSON bytes with no database, no auth and no middleware (the floor of this stack on this machine).

Issue 20's bar: >= 1,500 requests/s with p99 <= 25 ms on a 2-core machine, SQLite default; `--postgres` runs the
server on a scratch PostgreSQL database (the machine's, on loopback) as well.

    python bench/bench_read_path.py                       # wrk -t1 -c8 -d10s on each URL
    python bench/bench_read_path.py --seconds 20 --connections 16 --postgres

Needs wrk (Debian: apt-get install wrk); without it the benchmark says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a benchmark never downloads

import httpx  # noqa: E402

from sfumato.engine.tiny import build_tiny_sd15  # noqa: E402
from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer, free_port, server_env  # noqa: E402

UNLIMITED = {
    "SFUMATO_RATE_LIMIT_PER_MINUTE": "100000000",
    "SFUMATO_RATE_LIMIT_JOBS_PER_MINUTE": "100000000",
    "SFUMATO_LOG_LEVEL": "WARNING",
}
BARE_APP = textwrap.dedent(
    """
    import sys
    import uvicorn
    from fastapi import FastAPI, Response

    body = open(sys.argv[2], "rb").read()
    app = FastAPI()

    @app.get("/{path:path}")
    def read(path: str) -> Response:
        return Response(body, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
    """
)


def wrk(url: str, key: str, seconds: int, connections: int) -> tuple[float, float]:
    """(requests/s, p99 ms) of one wrk run; any non-2xx answer fails the benchmark."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Authorization: Bearer {key}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw error answers from {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out).groups()  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


@contextmanager
def bare_server(tmp: Path, body: bytes) -> Iterator[str]:
    (tmp / "body.json").write_bytes(body)
    port = free_port()
    script = tmp / "bare.py"
    script.write_text(BARE_APP)
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(tmp / "body.json")])
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/x", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def measure(env: dict[str, str], tmp: Path, args: argparse.Namespace, label: str) -> list[dict]:
    server = LiveServer({**env, **UNLIMITED}, free_port(), tmp / f"server-{label}.log")
    server.start()
    try:
        client = server.client("poller")
        user = server.user("poller")
        ids = []
        for n in range(args.generations):
            body = {"prompt": f"scene {n}", "width": 64, "height": 64, "num_images": 2}
            ids.append(client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"])
        while any(client.get(f"/generations/{i}").json()["generations_by_pk"]["status"] == "PENDING" for i in ids):
            time.sleep(0.2)
        one = f"{server.api_url}/generations/{ids[-1]}"
        listing = f"{server.api_url}/generations/user/{user['user_id']}?limit=10"
        rows = []
        for name, url in (("GET /generations/{id}", one), ("GET /generations/user/{userId}", listing)):
            body = httpx.get(url, headers={"Authorization": f"Bearer {user['api_key']}"}).content
            # Not counted: the first requests start the thread pool's threads and fill the statement caches,
            # which put cold-start times into the p99 of a short run (the bare app gets the same warm-up).
            wrk(url, user["api_key"], 2, args.connections)
            rate, p99 = wrk(url, user["api_key"], args.seconds, args.connections)
            with bare_server(tmp, body) as bare:
                wrk(f"{bare}/x", "none", 2, args.connections)
                bare_rate, bare_p99 = wrk(f"{bare}/x", "none", args.seconds, args.connections)
            rows.append(
                {"db": label, "op": name, "rate": rate, "p99": p99, "bare_rate": bare_rate, "bare_p99": bare_p99}
            )
        return rows
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--generations", type=int, default=12, help="generations the user has (the list's size)")
    parser.add_argument("--postgres", action="store_true", help="also run on a scratch PostgreSQL database")
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_read_path needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        sys.exit(2)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = build_tiny_sd15(tmp / "tiny", seed=0, buckets=[[64, 64]])
        catalog = tmp / "catalog"
        catalog.mkdir()
        entry = {"id": TINY_MODEL_ID, "name": "Tiny", "description": "", "path": str(model)}
        (catalog / "tiny.json").write_text(json.dumps([entry]))
        env = server_env(tmp / "data", catalog)
        rows += measure(env, tmp, args, "SQLite")
        if args.postgres:
            from sfumato.testing.cluster import scratch_database

            with scratch_database("sfumato_bench_read") as pg:
                env_pg = {**server_env(tmp / "data-pg", catalog), "SFUMATO_DATABASE_URL": pg}
                rows += measure(env_pg, tmp, args, "PostgreSQL")
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s; bar: >= 1500 requests/s, p99 <= 25 ms")
    print(f"{'':44}{'sfumato':>18}{'bare FastAPI':>18}{'ratio':>8}")
    for r in rows:
        print(
            f"{r['op'] + ' (' + r['db'] + ')':44}{r['rate']:>9.0f} req/s {r['p99']:>5.1f}"
            f"{r['bare_rate']:>9.0f} req/s {r['bare_p99']:>5.1f}{r['rate'] / r['bare_rate']:>8.2f}"
        )
        r["met"] = r["rate"] >= 1500 and r["p99"] <= 25
    print("p99 in ms; bar met: " + ", ".join(f"{r['op']} ({r['db']}) {'yes' if r['met'] else 'NO'}" for r in rows))
    if args.ratios_json:
        ratios = [
            {
                "measure": f"read path {r['op']} ({r['db']}), vs bare FastAPI",
                "ratio": r["rate"] / r["bare_rate"],
                "detail": f"{r['rate']:.0f} req/s p99 {r['p99']:.1f} ms vs {r['bare_rate']:.0f} req/s",
            }
            for r in rows
        ]
        args.ratios_json.write_text(json.dumps(ratios))


if __name__ == "__main__":
    main()
