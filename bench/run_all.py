"""Every benchmark in bench/, one after the other, each in its own process (memory figures stay its own), then
one table of the ratios they report.

    python bench/run_all.py              # quick settings: a few minutes on a 2-core CPU (`make bench`)
    python bench/run_all.py --full       # each benchmark's own defaults (much longer)
    python bench/run_all.py --only engine starter

bench_scaleout needs the machine's PostgreSQL and Redis on loopback (as the scale-out tests do); without them
it is skipped, and said so in the table; bench_gpu likewise without a CUDA device.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    quick: tuple[str, ...]  # flags that keep the run short; --full runs the script's own defaults
    needs_services: bool = False
    needs_program: str = ""  # a command it drives (wrk); skipped, and said so, when it is not installed


BENCHMARKS = (
    Benchmark("engine", ("--repeats", "3", "--switches", "30")),
    Benchmark("server", ("--runs", "3", "--switches", "15")),
    Benchmark("batching", ("--requests", "12")),
    Benchmark("read_path", ("--seconds", "5"), needs_program="wrk"),
    Benchmark("starter", ("--repeats", "3")),
    Benchmark("motion", ("--runs", "3")),
    Benchmark("elements", ("--runs", "3")),
    Benchmark("realtime", ("--requests", "10", "--scenes", "12")),
    Benchmark("gpu", ("--quick",)),  # skipped, and said so, without CUDA
    Benchmark(
        "scaleout",
        ("--jobs", "8", "--images", "2", "--size", "256", "--steps", "20", "--workers", "1", "2"),
        needs_services=True,
    ),
)


@dataclass(frozen=True)
class Ratio:
    measure: str
    ratio: float
    detail: str


@dataclass
class Outcome:
    name: str
    seconds: float
    ratios: list[Ratio]
    note: str = ""


def services_down() -> str:
    """Why bench_scaleout cannot run here, or "" when PostgreSQL and Redis answer."""
    import psycopg
    import redis

    from sfumato.testing.cluster import PG_ADMIN_URL, REDIS_BASE

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        redis.Redis.from_url(REDIS_BASE, socket_timeout=3).ping()
    except (psycopg.Error, redis.RedisError) as exc:
        return f"skipped: needs PostgreSQL and Redis on loopback ({type(exc).__name__})"
    return ""


def run(bench: Benchmark, full: bool, out: Path) -> Outcome:
    if bench.needs_services and (why := services_down()):
        return Outcome(bench.name, 0.0, [], why)
    if bench.needs_program and shutil.which(bench.needs_program) is None:
        return Outcome(
            bench.name, 0.0, [], f"skipped: needs {bench.needs_program} (apt-get install {bench.needs_program})"
        )
    ratios_file = out / f"{bench.name}.json"
    command = [sys.executable, str(BENCH / f"bench_{bench.name}.py"), "--ratios-json", str(ratios_file)]
    command += [] if full else list(bench.quick)
    print(f"\n=== bench_{bench.name}: {' '.join(command[1:])}", flush=True)
    start = time.monotonic()
    code = subprocess.run(command).returncode  # its output goes straight to ours, as it happens
    seconds = time.monotonic() - start
    if code != 0 or not ratios_file.is_file():
        return Outcome(bench.name, seconds, [], f"FAILED (exit code {code})")
    reported = json.loads(ratios_file.read_text())
    if isinstance(reported, dict) and "skipped" in reported:  # it could not run here, and says why
        return Outcome(bench.name, seconds, [], str(reported["skipped"]))
    ratios = [Ratio(str(r["measure"]), float(r["ratio"]), str(r["detail"])) for r in reported]
    return Outcome(bench.name, seconds, ratios)


def table(outcomes: list[Outcome]) -> str:
    rows = [("benchmark", "measure", "ratio", "detail")]
    for o in outcomes:
        if o.note:
            rows.append((o.name, "-", "-", o.note))
        rows += [(o.name, r.measure, f"{r.ratio:.2f}x", r.detail) for r in o.ratios]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    lines = [line]
    for row in rows:
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if len(lines) == 2:
            lines.append(line)
    lines.append(line)
    times = ", ".join(f"{o.name} {o.seconds:.0f} s" for o in outcomes if not o.note.startswith("skipped"))
    return "\n".join(lines) + f"\ntime: {times}; total {sum(o.seconds for o in outcomes):.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", dest="full", action="store_false", help="short settings (the default)")
    mode.add_argument("--full", dest="full", action="store_true", help="each benchmark's own defaults")
    parser.set_defaults(full=False)  # two actions share the dest: say which default wins
    names = [b.name for b in BENCHMARKS]
    parser.add_argument("--only", nargs="+", choices=names, default=names, help="run only these benchmarks")
    args = parser.parse_args()
    unlisted = {p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py")} - set(names)
    if unlisted:  # every benchmark runs here, with quick settings of its own
        parser.error(f"add {sorted(unlisted)} to BENCHMARKS in {Path(__file__).name}")
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as tmp:
        outcomes = [run(b, args.full, Path(tmp)) for b in BENCHMARKS if b.name in args.only]
    print(f"\nratios ({'full' if args.full else 'quick'} settings; 1.00x = the same as the baseline)")
    print(table(outcomes))
    sys.exit(1 if any(o.note.startswith("FAILED") for o in outcomes) else 0)


if __name__ == "__main__":
    main()
