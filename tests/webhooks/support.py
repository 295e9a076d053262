"""A real webhook receiver on loopback: a tiny threaded http.server that records what it gets and answers
with whatever status the test scripts. Its dedup table counts accepted (2xx) deliveries by webhook-id."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from sfumato.testing.live_server import LiveServer, cli_json


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


# Fast retries so a test sees several attempts in a couple of seconds; loopback receivers allowed.
FAST_WEBHOOKS = {
    "SFUMATO_WEBHOOK_ALLOW_PRIVATE": "true",
    "SFUMATO_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "SFUMATO_WEBHOOK_RETRY_CAP_SECONDS": "1",
    "SFUMATO_WEBHOOK_POLL_SECONDS": "0.2",
}

# Decides the answer: (webhook-id, how many times this id was seen before) -> status code, or
# (status code, extra headers, body).
Answer = int | tuple[int, dict[str, str], bytes]
Responder = Callable[[str, int], Answer]


class Receiver:
    def __init__(self, port: int, responder: Responder | None = None) -> None:
        self.port = port
        self.responder: Responder = responder or (lambda _id, _n: 200)
        self.received: list[Received] = []
        self.accepted: Counter[str] = Counter()  # the dedup table: webhook-id -> 2xx answers given
        self._seen: Counter[str] = Counter()
        self.delay_seconds = 0.0  # wait before answering (to make the sender time out)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/leonardo"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    webhook_id = headers.get("webhook-id", "")
                    answer = receiver.responder(webhook_id, receiver._seen[webhook_id])
                    receiver._seen[webhook_id] += 1
                    status, extra, payload = answer if isinstance(answer, tuple) else (answer, {}, b"")
                    # Recorded (and deduplicated) before answering, as a real receiver commits first.
                    receiver.received.append(Received(self.path, headers, body, status))
                    if 200 <= status < 300:
                        receiver.accepted[webhook_id] += 1
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                payload = payload or (b"ok" if status < 300 else b"receiver says no")
                try:
                    self.send_response(status)
                    self.send_header("content-type", "text/plain")
                    self.send_header("content-length", str(len(payload)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender gave up (timeout)
                    return

            def log_message(self, *_args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return
            time.sleep(0.05)
        raise AssertionError(f"receiver: timed out waiting for {what or predicate}; got {len(self.received)}")


def webhook_key(server: LiveServer, user: str, url: str, bearer: str | None = "cb-key-123") -> dict:
    """A key with a webhook, made with the real CLI: {"key_id", "api_key", "signing_secret"}."""
    server.user(user)
    args = ["keys", "create", "--user", user, "--webhook-url", url]
    if bearer:
        args += ["--webhook-key", bearer]
    return cli_json(server.env, *args)  # type: ignore[return-value]


def generate(server: LiveServer, api_key: str, prompt: str = "a red square") -> str:
    """A tiny generation (1 image, 64x64) through the API; returns its id."""
    r = httpx.post(
        server.api_url + "/generations",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"prompt": prompt, "width": 64, "height": 64, "num_images": 1},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()["sdGenerationJob"]["generationId"]


def deliveries(server: LiveServer, *args: str) -> list[dict]:
    return cli_json(server.env, "webhooks", "list", "--limit", "1000", *args)  # type: ignore[return-value]
