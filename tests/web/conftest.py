"""tests/web's shared generating server and browser (package scope: the Generate / History and Get API Code
modules use one server and one Chromium; the other modules start their own, with other settings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from sfumato.testing.browser import chromium
from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.web.support import new_user, sign_in


@pytest.fixture(scope="package")
def studio_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("web-studio")
    live = LiveServer(server_env(data, tiny_catalog), free_port(), data / "server.log")
    live.env["SFUMATO_WEBHOOK_ALLOW_PRIVATE"] = "true"  # API Access's deliveries go to a receiver on loopback
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="package")
def studio_browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="package")
def studio_user(studio_server: LiveServer) -> dict[str, str]:
    return new_user(studio_server)


@pytest.fixture(scope="package")
def studio_context(
    studio_browser: Browser, studio_server: LiveServer, studio_user: dict[str, str]
) -> Iterator[BrowserContext]:
    """One signed-in browser context (signing in is not what these tests are about)."""
    context = studio_browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    sign_in(page, studio_server, studio_user["name"])
    expect(page).to_have_url(studio_server.base_url + "/app/generate")
    page.close()
    yield context
    context.close()
