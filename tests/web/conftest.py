"""tests/web's shared browser and servers (package scope: every module drives the one Chromium; the Generate /
History / Get API Code / pages modules share the generating server; Account, API Access and sign-up share one
that generates nothing; test_web_app and test_web_s3 start their own, with other settings)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.browser import chromium
from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.motion.support import motion_server
from tests.web.support import new_user, sign_in


@pytest.fixture(scope="package")
def studio_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The tiny image models and a tiny SVD as the motion model (History plays a video)."""
    root = tmp_path_factory.mktemp("web-studio")
    svd = build_tiny_svd(root / "tiny-svd")
    # API Access's deliveries go to a receiver on loopback.
    with motion_server(
        root, tiny_catalog, svd, TINY_SVD_ID, "Tiny SVD", {"SFUMATO_WEBHOOK_ALLOW_PRIVATE": "true"}
    ) as live:
        yield live


TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000502d"


@pytest.fixture(scope="package")
def plain_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose pages generate nothing (no model preloaded), with sign-up open: one start for the modules
    that only need accounts, keys and sessions (their few sign-ins stay far below the 30 a minute per address)."""
    data = tmp_path_factory.mktemp("web-plain")
    live = LiveServer(server_env(data, tiny_catalog), free_port(), data / "server.log")
    live.env.update(SFUMATO_SIGNUP="open", SFUMATO_PRELOAD_DEFAULT_MODEL="false")
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all of tests/web: Playwright's sync API runs one instance per thread at a time."""
    with chromium() as b:
        yield b


@pytest.fixture(scope="package")
def studio_user(studio_server: LiveServer) -> dict[str, str]:
    return new_user(studio_server)


@pytest.fixture(scope="package")
def studio_context(
    browser: Browser, studio_server: LiveServer, studio_user: dict[str, str]
) -> Iterator[BrowserContext]:
    """One signed-in browser context (signing in is not what these tests are about)."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    sign_in(page, studio_server, studio_user["name"])
    expect(page).to_have_url(studio_server.base_url + "/app/generate")
    page.close()
    yield context
    context.close()
