"""The official TypeScript SDK (npm @leonardo-ai/sdk, locked in tests/ts) runs the core scenario with node.

The TS SDK is the strictest client: it validates every response with zod and rejects `null` on many keys
and any wrong type. The scenario itself lives in tests/ts/scenario.mjs; this test starts it against the
live server and fails with its output when any check or any SDK validation fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer

TS_DIR = Path(__file__).resolve().parents[1] / "ts"
SCENARIO = TS_DIR / "scenario.mjs"
SDK_PACKAGE = TS_DIR / "node_modules" / "@leonardo-ai" / "sdk" / "package.json"
INSTALL_HINT = "run `make test` (it installs node_modules with `cd tests/ts && npm ci`)"


def test_typescript_sdk_core_scenario(live_server: LiveServer) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH: the TypeScript SDK test needs Node 20+; install it, then {INSTALL_HINT}")
    if not SDK_PACKAGE.is_file():
        pytest.fail(f"{SDK_PACKAGE.relative_to(TS_DIR.parents[1])} is missing: {INSTALL_HINT}")

    alice = live_server.user("ts-alice")
    bob = live_server.user("ts-bob")
    env = {
        **os.environ,
        "SERVER_URL": live_server.api_url,
        "API_KEY": alice["api_key"],
        "OTHER_API_KEY": bob["api_key"],
        "USER_ID": alice["user_id"],
        "USER_NAME": "ts-alice",
        "EXPECTED_MODEL_IDS": f"{TINY_MODEL_ID},{TINY_XL_MODEL_ID}",
        "POLL_TIMEOUT_S": "120",
    }
    try:
        proc = subprocess.run([node, str(SCENARIO)], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the TypeScript SDK scenario did not finish in 300 s\n--- stdout ---\n{exc.stdout}")
    print(proc.stdout)
    assert proc.returncode == 0, (
        f"the TypeScript SDK scenario failed (exit {proc.returncode})\n"
        f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    )
    assert "PASS: TypeScript SDK scenario" in proc.stdout
