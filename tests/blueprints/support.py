"""What the blueprint tests share: ids, the operator's test blueprints, polling."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000b9d0"
BROKEN_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000b40c3"
# The built-in blueprints (src/sfumato/catalog/blueprints) and their versions.
CUTOUT, CUTOUT_V1 = "d3b1f81e-ac42-4bab-9287-eceac0f0774b", "515538ac-9a81-4807-910d-73077ab39f1c"
RESTYLE, RESTYLE_V1 = "17f878b5-60bd-434c-8196-9711ac63cccb", "6d3e7e39-9c96-48e5-8054-08f9945de0e8"
MOTION, MOTION_V1 = "5c6a0031-b3c8-4581-bf1c-8ba600c101f7", "0d9f23b0-9cb1-41cf-b600-e03170aa76b0"
QUICK, QUICK_V1 = "ade3e204-d542-4d28-932b-9ce156251f4a", "b283a447-bbde-4522-a8e0-12c7025fea32"
# The operator's (written by operator_blueprints): a second step on a model whose folder is missing.
FAILING, FAILING_V1 = "9a7e1c52-5b0e-4d7c-9d0e-2f3a4b5c6d7e", "9a7e1c52-5b0e-4d7c-9d0e-2f3a4b5c6d70"


def operator_blueprints(folder: Path) -> Path:
    folder.mkdir(parents=True)
    failing = {
        "id": FAILING,
        "name": "Second step fails",
        "description": "an image, then an image-to-image on a model whose folder is gone",
        "categories": ["Test"],
        "versions": [
            {
                "id": FAILING_V1,
                "createdAt": "2026-12-07T10:00:00Z",
                "nodes": [
                    {"id": "first", "operation": "generate",
                     "settings": {"prompt": "a red circle on a blue background", "width": 64, "height": 64}},
                    {"id": "second", "operation": "generate",
                     "settings": {"prompt": "a red circle", "model_id": BROKEN_MODEL_ID, "width": 64, "height": 64}},
                ],
                "edges": [{"from": "first", "to": "second"}],
            }
        ],
    }  # fmt: skip
    (folder / "failing.json").write_text(json.dumps(failing))
    # The same format in TOML: one node, found and served beside the JSON one.
    (folder / "toml-one.toml").write_text(
        'id = "9a7e1c52-5b0e-4d7c-9d0e-2f3a4b5c6d71"\nname = "From TOML"\ndescription = "one image"\n\n'
        '[[versions]]\nid = "9a7e1c52-5b0e-4d7c-9d0e-2f3a4b5c6d72"\ncreatedAt = 2026-12-07T10:00:00Z\nedges = []\n\n'
        '[[versions.nodes]]\nid = "only"\noperation = "generate"\n'
        'settings = { prompt = "a blue square on a white background", width = 64, height = 64 }\n'
    )
    return folder


def wait_execution(client: httpx.Client, execution_id: str, timeout: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/blueprint-executions/{execution_id}")
        assert answer.status_code == 200, answer.text
        body = answer.json()["blueprintExecution"]
        if body["status"] in ("COMPLETED", "FAILED"):
            return body
        time.sleep(0.3)
    raise AssertionError(f"blueprint execution {execution_id} did not finish in {timeout}s")
