"""Schemathesis over the whole served spec (server errors, status codes and response schemas as documented,
content types, Allow headers, stateful links between create and read operations, ...), against a live server on
loopback with rate limits raised. New endpoints are fuzzed without editing this file.

`make test` runs a bounded pass (SFUMATO_FUZZ_SECONDS, default 60) without the two checks in NOT_YET; `make fuzz`
runs a long one with every check."""

from __future__ import annotations

import os
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
# Still failing, so left out of the bounded pass until the spec states every range and tolerant input and the
# semantic refusals (an init image id where a generated image belongs) are squared with them: `make fuzz`
# (SFUMATO_FUZZ_ALL_CHECKS=1) runs them and prints what is left (docs/operations.md, issue 19's note).
NOT_YET = "positive_data_acceptance,negative_data_rejection"
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
        *([] if os.environ.get("SFUMATO_FUZZ_ALL_CHECKS") == "1" else ["--exclude-checks", NOT_YET]),
        "--max-time",
        str(SECONDS),
        "--workers",
        "1",
        "--seed",
        os.environ.get("SFUMATO_FUZZ_SEED", "1"),  # reproducible in CI; `make fuzz` draws a new one
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS + 200, cwd=tmp_path)
    summary = proc.stdout[proc.stdout.find("SUMMARY") :] if "SUMMARY" in proc.stdout else proc.stdout[-3000:]
    print(summary)  # cases and failures, for the notes (`pytest -s`)
    assert proc.returncode == 0, f"{proc.stdout[-12000:]}\n{proc.stderr[-2000:]}"
    cases = re.search(r"(\d+) generated", proc.stdout)
    assert cases and int(cases.group(1)) >= 100, summary  # it really fuzzed
