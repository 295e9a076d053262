"""What the motion tests share: a live server whose motion model is a tiny SVD folder built in code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sfumato.testing.live_server import LiveServer, free_port, server_env


@contextmanager
def motion_server(
    root: Path, tiny_catalog: Path, svd: Path, svd_id: str, svd_name: str, extra_env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """The tiny image models plus `svd` as the motion model (pinned, so a bundled Starter Motion never runs)."""
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text((tiny_catalog / "tiny.json").read_text())
    entry = {"id": svd_id, "name": svd_name, "description": "tiny random SVD", "path": str(svd)}
    (catalog / "svd.json").write_text(json.dumps([entry]))
    env = {**server_env(root / "data", catalog, motion_model_id=svd_id), **(extra_env or {})}
    live = LiveServer(env, free_port(), root / "server.log")
    live.start()
    try:
        yield live
    finally:
        live.stop()
