"""The image tests share the session's live server (tests/conftest.py: tiny SD 1.5 / SDXL models); the
add-on tests get their own server (`addon_server`), whose DATA_DIR/addons/ and model folders they change."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.images.support import AddonServer

IP_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000001a1"  # tiny SD 1.5 with a tiny IP-Adapter installed
BROKEN_IP_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000001a2"  # tiny SD 1.5 whose ip_adapter/ the tests break


@pytest.fixture(scope="session")
def addon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AddonServer]:
    """A real server over two tiny SD 1.5 folders (one with a working IP-Adapter) and an empty addons dir."""
    from sfumato.engine.tiny import build_tiny_sd15
    from sfumato.engine.tiny_addons import build_tiny_ip_adapter

    root = tmp_path_factory.mktemp("addon-models")
    with_ip = build_tiny_sd15(root / "tiny-ip", seed=0, buckets=[[64, 64]])
    build_tiny_ip_adapter(with_ip, seed=1)
    broken = build_tiny_sd15(root / "tiny-ip-broken", seed=0, buckets=[[64, 64]])
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "addons.json").write_text(
        json.dumps(
            [
                {
                    "id": IP_MODEL_ID,
                    "name": "Tiny IP",
                    "description": "with IP-Adapter",
                    "path": str(with_ip),
                    "recommended_steps": 10,
                },
                {
                    "id": BROKEN_IP_MODEL_ID,
                    "name": "Tiny IP broken",
                    "description": "broken IP-Adapter",
                    "path": str(broken),
                    "recommended_steps": 10,
                },
            ]
        )
    )
    data = tmp_path_factory.mktemp("addon-data")
    server = LiveServer(server_env(data, catalog, default_model_id=IP_MODEL_ID), free_port(), data / "server.log")
    server.start()
    yield AddonServer(server, data / "addons", {IP_MODEL_ID: with_ip, BROKEN_IP_MODEL_ID: broken})
    server.stop()
