"""One live server for the blueprint tests: the tiny image models, a tiny SVD as the motion model, a model whose
folder is missing (a step on it fails), an operator's blueprint folder, and loopback allowed for imageUrl by
host (SFUMATO_WEBHOOK_ALLOW_HOSTS=127.0.0.1, as an operator would allow one host: private ranges stay refused)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.blueprints.support import BROKEN_MODEL_ID, TINY_SVD_ID, operator_blueprints


@pytest.fixture(scope="package")
def bp_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("blueprints")
    svd = build_tiny_svd(root / "tiny-svd")
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text((tiny_catalog / "tiny.json").read_text())
    (catalog / "svd.json").write_text(json.dumps([{"id": TINY_SVD_ID, "name": "Tiny SVD", "path": str(svd)}]))
    missing = {
        "id": BROKEN_MODEL_ID,
        "name": "Gone",
        "description": "its folder is missing",
        "path": str(root / "gone"),
    }
    (catalog / "broken.json").write_text(json.dumps([missing]))
    operator = operator_blueprints(root / "operator-blueprints")
    env = {
        **server_env(root / "data", catalog, motion_model_id=TINY_SVD_ID),
        "SFUMATO_BLUEPRINTS_DIR": str(operator),
        "SFUMATO_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    }
    live = LiveServer(env, free_port(), root / "server.log")
    live.start()
    try:
        yield live
    finally:
        live.stop()


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/red.png":
            buf = io.BytesIO()
            Image.new("RGB", (64, 64), (220, 20, 20)).save(buf, format="PNG")
            self._send(200, "image/png", buf.getvalue())
        elif self.path == "/page.html":
            self._send(200, "text/html", b"<html>not an image</html>")
        elif self.path == "/to-private":
            self.send_response(302)
            self.send_header("Location", "http://10.1.2.3/secret.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, "text/plain", b"no")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="package")
def image_host() -> Iterator[str]:
    """An HTTP server on loopback serving a PNG (/red.png), an HTML page and a redirect to a private address."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
