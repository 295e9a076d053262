"""A real browser for tests: Playwright driving Debian's Chromium (installed by `make test`; never a download)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("SFUMATO_CHROMIUM", "/usr/bin/chromium")

# Resolves once the element has decoded enough to play (readyState 4), or rejects with the media error code.
_VIDEO_FACTS = """async (url) => {
  const v = document.createElement("video");
  v.muted = true;
  document.body.appendChild(v);
  await new Promise((ok, bad) => {
    v.oncanplaythrough = ok;
    v.onerror = () => bad(new Error("media error " + (v.error && v.error.code) + ": " + (v.error && v.error.message)));
    v.src = url;
  });
  return {duration: v.duration, width: v.videoWidth, height: v.videoHeight, readyState: v.readyState};
}"""


@contextmanager
def chromium() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt-get")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def video_facts(browser: Browser, url: str) -> dict[str, Any]:
    """What a `<video>` element in Chromium reads from `url`: duration (s), width, height, readyState."""
    page = browser.new_page()
    seen: list[str] = []  # what the browser fetched, for the failure message
    page.on("response", lambda r: seen.append(f"{r.status} {r.url} {r.headers}"))
    try:
        # A document of our own: from a bare `goto("about:blank")` Chromium refuses to load media at all.
        page.set_content("<!doctype html><html><body></body></html>")
        return dict(page.evaluate(_VIDEO_FACTS, url))
    except Exception as exc:
        raise AssertionError(f"Chromium could not play {url}: {exc}; responses: {seen}") from exc
    finally:
        page.close()
