"""Webhook tests run their own servers (not the shared session one), so webhook settings apply."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.webhooks.support import FAST_WEBHOOKS, Receiver

ServerFactory = Callable[..., LiveServer]


@pytest.fixture(scope="module")
def make_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Start a server with extra SFUMATO_* settings; all are stopped at the end of the module."""
    started: list[LiveServer] = []

    def make(**extra_env: str) -> LiveServer:
        data = tmp_path_factory.mktemp("webhook-data")
        env = server_env(data, tiny_catalog)
        port = free_port()
        env.update(extra_env, SFUMATO_PORT=str(port))
        server = LiveServer(env, port, data / "server.log")
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def hook_server(make_server: ServerFactory) -> LiveServer:
    """The module's server: private destinations allowed (the receivers are on loopback), fast retries."""
    return make_server(**FAST_WEBHOOKS)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    yield r
    r.stop()
