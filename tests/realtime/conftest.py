"""A real server whose default model (hence the realtime canvas's and the prompt tools') is the bundled Starter,
with one realtime slot and a short wait, so a burst gets 429s quickly, and webhooks allowed to loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.starter import STARTER_MODEL_ID
from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.webhooks.support import FAST_WEBHOOKS


@pytest.fixture(scope="session")
def starter_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("realtime-data")
    env = server_env(data, tiny_catalog, default_model_id=STARTER_MODEL_ID)
    env.update(SFUMATO_REALTIME_CONCURRENCY="1", SFUMATO_REALTIME_WAIT_SECONDS="0.3", SFUMATO_TORCH_THREADS="1")
    env.update(FAST_WEBHOOKS)  # webhooks to a receiver on loopback
    server = LiveServer(env, free_port(), data / "server.log")
    server.start()
    yield server
    server.stop()
