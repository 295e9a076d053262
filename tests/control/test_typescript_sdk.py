"""uploadCanvasInitImage, a canvas generation and a controlnets generation with the official TypeScript SDK
(tests/ts/control.mjs: zod validates every response; its steps name what failed)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.control.conftest import GUIDED_MODEL_ID, ControlServer
from tests.images.support import encode, picture

TS_DIR = Path(__file__).resolve().parents[1] / "ts"


def test_typescript_sdk_canvas_and_controlnets(control_server: ControlServer, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (TS_DIR / "node_modules" / "@leonardo-ai" / "sdk").is_dir():
        pytest.fail("node and tests/ts/node_modules are needed: run `make test` (it runs `npm ci` in tests/ts)")
    png = tmp_path / "picture.png"
    png.write_bytes(encode(picture(), "PNG"))
    env = {
        **os.environ,
        "SERVER_URL": control_server.server.api_url,
        "API_KEY": control_server.server.user("ts-guide")["api_key"],
        "MODEL_ID": GUIDED_MODEL_ID,
        "PNG_FILE": str(png),
        "POLL_TIMEOUT_S": "120",
    }
    proc = subprocess.run(
        [node, str(TS_DIR / "control.mjs")], cwd=TS_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
    assert "PASS: TypeScript SDK control scenario" in proc.stdout
