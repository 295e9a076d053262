"""The official TypeScript SDK (the strictest client: zod validates every response) runs tests/ts/blueprints.mjs
against the live server: read a blueprint and its versions, execute one with an override, follow it, list and
fetch what it made; a bad override and another user's id."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sfumato.testing.live_server import LiveServer
from tests.blueprints.support import QUICK, QUICK_V1

TS_DIR = Path(__file__).resolve().parents[1] / "ts"


def test_typescript_sdk_executes_and_reads_a_blueprint(bp_server: LiveServer) -> None:
    node = shutil.which("node")
    if node is None or not (TS_DIR / "node_modules" / "@leonardo-ai" / "sdk").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run `make test` (cd tests/ts && npm ci)")
    env = {
        **os.environ,
        "SERVER_URL": bp_server.api_url,
        "API_KEY": bp_server.user("bp-alice")["api_key"],
        "OTHER_API_KEY": bp_server.user("bp-stranger")["api_key"],
        "BLUEPRINT_ID": QUICK,
        "VERSION_ID": QUICK_V1,
        "POLL_TIMEOUT_S": "120",
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "blueprints.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK blueprints scenario" in proc.stdout
