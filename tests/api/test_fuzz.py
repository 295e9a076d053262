"""Schemathesis over the whole served spec (server errors, status codes and response schemas as documented,
content types, Allow headers, stateful links between create and read operations, ...), against a live server on
loopback with rate limits raised. New endpoints are fuzzed without editing this file.

`make test` runs a bounded pass (SFUMATO_FUZZ_SECONDS, default 60, seed 1), `make fuzz` a long one with a new
seed each run; both with every check. The refusals no schema can
state (what an id points to, what a data URL's bytes hold) are declared per operation (`x-semantic-refusals`,
api/openapi.py) and expected by the hooks in tests/api/fuzz_hooks.py, on exactly those fields."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.live_server import LiveServer
from tests.motion.support import motion_server

TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000504d"
SECONDS = int(os.environ.get("SFUMATO_FUZZ_SECONDS", "60"))
HOOKS = Path(__file__).with_name("fuzz_hooks.py")


def seed() -> str:
    """Reproducible in `make test` (1); `make fuzz` passes "random" (make's /bin/sh has no $RANDOM): a new one,
    printed in schemathesis's summary so a failure can be replayed with SFUMATO_FUZZ_SEED=N."""
    value = os.environ.get("SFUMATO_FUZZ_SEED", "1")
    return str(random.randrange(1 << 31)) if value == "random" else value


UNLIMITED = {
    "SFUMATO_RATE_LIMIT_PER_MINUTE": "1000000",
    "SFUMATO_RATE_LIMIT_JOBS_PER_MINUTE": "1000000",
    "SFUMATO_MAX_PENDING_PER_USER": "1000000",
}


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("fuzz")
    # A motion model that follows prompts, so every schema-valid motion request can be served.
    svd = build_tiny_svd(root / "tiny-svd", follows_prompts=True)
    with motion_server(root, tiny_catalog, svd, TINY_SVD_ID, "Tiny SVD", UNLIMITED) as live:
        yield live


@pytest.mark.timeout(SECONDS + 240)
def test_schemathesis_finds_nothing(server: LiveServer, tmp_path: Path) -> None:
    key = server.user("fuzzer")["api_key"]
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        "all",
        "--max-time",
        str(SECONDS),
        "--workers",
        "1",
        "--seed",
        seed(),
        # SFUMATO_FUZZ_OPERATION=createGeneration (an operationId) fuzzes one operation, to replay or dig into it.
        *(
            ["--include-operation-id", os.environ["SFUMATO_FUZZ_OPERATION"]]
            if os.environ.get("SFUMATO_FUZZ_OPERATION")
            else []
        ),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 200, cwd=tmp_path, env=env)
    summary = proc.stdout[proc.stdout.find("SUMMARY") :] if "SUMMARY" in proc.stdout else proc.stdout[-3000:]
    # The whole output (every failure, not only the last ones the assertion shows), for whoever fixes them.
    (tmp_path / "schemathesis.txt").write_text(proc.stdout + proc.stderr)
    print(summary, "\nfull output:", tmp_path / "schemathesis.txt")  # for the notes (`pytest -s`)
    assert proc.returncode == 0, f"{proc.stdout[-12000:]}\n{proc.stderr[-2000:]}"
    cases = re.search(r"(\d+) generated", proc.stdout)
    assert cases and int(cases.group(1)) >= 100, summary  # it really fuzzed
