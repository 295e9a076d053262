"""The web app with its files in S3 (moto's server on loopback, tests/conftest.py's s3_endpoint): the pages'
Content-Security-Policy allows the bucket's origin for images and videos, and only that one, so History's images,
which the browser fetches straight from the bucket, load in Chromium; the Generate form's init image upload goes
into the bucket and the generation uses it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, expect

from sfumato.store.s3 import S3FileStore
from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.conftest import new_bucket_store, s3_storage_env
from tests.web.support import new_user, sign_in

PREFIX = "web/"


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> S3FileStore:
    return new_bucket_store(s3_endpoint, PREFIX)


@pytest.fixture(scope="module")
def server(
    tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, bucket: S3FileStore
) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("web-s3-data")
    env = {**server_env(data, tiny_catalog), **s3_storage_env(bucket, s3_endpoint)}
    live = LiveServer(env, free_port(), data / "server.log")
    live.start()
    yield live
    live.stop()


def test_history_images_load_from_the_bucket_under_a_csp_naming_only_its_origin(
    server: LiveServer, browser: Browser, bucket: S3FileStore, s3_endpoint: str
) -> None:
    user = new_user(server)
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    refused: list[str] = []  # Chromium reports each CSP refusal on the console
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, server, user["name"])
    init = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 200)).save(init, "PNG")
    page.get_by_label("Prompt", exact=True).fill("a boat from the bucket")
    page.get_by_label("Width").fill("64")
    page.get_by_label("Height").fill("48")
    page.get_by_label("Number of images").fill("2")
    page.get_by_label("Init image (PNG, JPEG or WebP)").set_input_files(
        files=[{"name": "start.png", "mimeType": "image/png", "buffer": init.getvalue()}]
    )
    page.get_by_role("button", name="Generate").click()
    card = page.locator("article.gen", has_text="a boat from the bucket")
    expect(card.get_by_role("status").first).to_have_text("COMPLETE", timeout=90_000)

    answer = page.goto(server.base_url + "/app/history")
    assert answer is not None
    csp = answer.headers["content-security-policy"]
    # The bucket's origin for images and videos, nothing else from elsewhere.
    assert f"img-src 'self' data: {s3_endpoint};" in csp and f"media-src 'self' {s3_endpoint};" in csp, csp
    assert csp.count("http") == 2 and "default-src 'self';" in csp, csp
    images = page.locator("article.gen", has_text="a boat from the bucket").get_by_role("img")
    expect(images).to_have_count(2)
    for img in images.all():
        assert str(img.get_attribute("src")).startswith(s3_endpoint + "/" + bucket.bucket + "/")
        img.scroll_into_view_if_needed()
        page.wait_for_function("i => i.complete", arg=img.element_handle())
        assert img.evaluate("i => i.naturalWidth") == 64
    assert refused == []
    # The web form's upload went to the bucket (under the user's prefix) with the two images.
    keys = bucket.object_keys(f"users/{user['user_id']}/")
    assert sum("/initImages/" in k for k in keys) == 1 and sum("/generations/" in k for k in keys) == 2, keys
    context.close()
