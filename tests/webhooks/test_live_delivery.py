"""Webhooks end to end: the real server (uvicorn subprocess) finishes real tiny generations and POSTs to a
real receiver on loopback."""

from __future__ import annotations

import time

import httpx
from standardwebhooks import Webhook

from sfumato.testing.live_server import LiveServer, cli_json, free_port
from tests.webhooks.conftest import ServerFactory
from tests.webhooks.support import FAST_WEBHOOKS, Receiver, deliveries, generate, webhook_key


def test_completed_generation_posts_leonardo_body_with_bearer_and_verifiable_signature(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    receiver.start()
    key = webhook_key(hook_server, "hana", receiver.url, bearer="cb-key-123")
    assert key["signing_secret"].startswith("whsec_")
    generation_id = generate(hook_server, key["api_key"], prompt="an oil painting of a cat")

    receiver.wait_for(lambda r: len(r.received) == 1, what="one delivery")
    got = receiver.received[0]
    assert got.path == "/hooks/leonardo"
    assert got.headers["authorization"] == "Bearer cb-key-123"
    assert got.headers["content-type"] == "application/json"
    Webhook(key["signing_secret"]).verify(got.body, got.headers)  # raises if the signature is wrong

    body = got.json
    assert body["type"] == "image_generation.complete"
    assert body["object"] == "generation" and body["api_version"] == "v1"
    assert abs(body["timestamp"] - time.time() * 1000) < 120_000  # epoch milliseconds
    gen = body["data"]["object"]
    assert gen["id"] == generation_id and gen["status"] == "COMPLETE"
    assert gen["prompt"] == "an oil painting of a cat"
    assert isinstance(gen["seed"], str) and isinstance(gen["apiDollarCost"], str)
    assert (gen["imageWidth"], gen["imageHeight"], gen["quantity"]) == (64, 64, 1)
    assert "generated_images" not in gen and len(gen["images"]) == 1
    image = gen["images"][0]
    assert image["generationId"] == generation_id
    # Absolute, and really serves the PNG without an auth header.
    r = httpx.get(image["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert gen["apiKey"]["id"] == key["key_id"]
    assert gen["apiKey"]["webhookCallbackUrl"] == receiver.url
    assert gen["apiKey"]["webhookCallbackApiKey"] == "cb-key-123"
    assert gen["model"]["id"] == gen["modelId"]

    [row] = [d for d in deliveries(hook_server) if d["object_id"] == generation_id]
    assert row["id"] == got.webhook_id and row["status"] == "delivered"
    assert row["last_status_code"] == 200 and row["last_latency_ms"] >= 0


def test_receiver_down_then_up_gets_the_delivery(hook_server: LiveServer, receiver: Receiver) -> None:
    key = webhook_key(hook_server, "dora", receiver.url)  # nothing listens on the port yet
    generation_id = generate(hook_server, key["api_key"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = [d for d in deliveries(hook_server) if d["object_id"] == generation_id]
        if rows and rows[0]["attempts"] >= 2:
            break
        time.sleep(0.3)
    [row] = rows
    assert row["status"] == "pending" and row["last_status_code"] is None and row["last_error"]

    receiver.start()
    receiver.wait_for(lambda r: r.accepted[row["id"]] == 1, what="the delivery after the receiver came up")
    delivered = [d for d in deliveries(hook_server) if d["id"] == row["id"]][0]
    assert delivered["status"] == "delivered"
    assert all(a["status_code"] is None for a in delivered["history"][:-1])


def test_500_three_times_then_200_keeps_the_same_webhook_id(hook_server: LiveServer, receiver: Receiver) -> None:
    receiver.responder = lambda _id, seen: 500 if seen < 3 else 200
    receiver.start()
    key = webhook_key(hook_server, "ivan", receiver.url)
    generate(hook_server, key["api_key"])

    receiver.wait_for(lambda r: len(r.received) == 4, what="four attempts")
    ids = {r.webhook_id for r in receiver.received}
    assert len(ids) == 1 and next(iter(ids)).startswith("msg_")
    assert [r.status for r in receiver.received] == [500, 500, 500, 200]
    # Same bytes each time; each attempt signed afresh and verifiable.
    assert len({r.body for r in receiver.received}) == 1
    for r in receiver.received:
        Webhook(key["signing_secret"]).verify(r.body, r.headers)
    time.sleep(1.5)  # a delivered row is never sent again
    assert len(receiver.received) == 4

    [row] = [d for d in deliveries(hook_server) if d["id"] in ids]
    assert [a["status_code"] for a in row["history"]] == [500, 500, 500, 200]
    assert [a["outcome"] for a in row["history"]] == ["retry", "retry", "retry", "delivered"]


def test_redeliver_sends_again_with_the_same_id(hook_server: LiveServer, receiver: Receiver) -> None:
    receiver.responder = lambda _id, seen: 410 if seen == 0 else 200  # a 4xx other than 408/429: no retry
    receiver.start()
    key = webhook_key(hook_server, "rita", receiver.url)
    generation_id = generate(hook_server, key["api_key"])
    receiver.wait_for(lambda r: len(r.received) == 1, what="the first attempt")
    deadline = time.monotonic() + 30
    while (row := [d for d in deliveries(hook_server, "--failed") if d["object_id"] == generation_id]) == []:
        assert time.monotonic() < deadline, "the 410 did not mark the delivery failed"
        time.sleep(0.2)
    assert row[0]["last_status_code"] == 410

    out = cli_json(hook_server.env, "webhooks", "redeliver", row[0]["id"])
    assert out["status"] == "pending"
    receiver.wait_for(lambda r: len(r.received) == 2, what="the redelivery")
    assert receiver.received[1].webhook_id == receiver.received[0].webhook_id == row[0]["id"]


def test_sigkilled_server_delivers_the_due_webhook_after_restart(make_server: ServerFactory) -> None:
    # Slower retries here, so the delivery is waiting for its next attempt when the server dies.
    server = make_server(**{**FAST_WEBHOOKS, "SFUMATO_WEBHOOK_RETRY_BASE_SECONDS": "2"})
    receiver = Receiver(free_port())
    try:
        key = webhook_key(server, "kurt", receiver.url)
        generation_id = generate(server, key["api_key"])
        deadline = time.monotonic() + 60
        while not (rows := [d for d in deliveries(server) if d["object_id"] == generation_id and d["attempts"]]):
            assert time.monotonic() < deadline, "no failed attempt recorded"
            time.sleep(0.2)
        server.kill()  # SIGKILL: no shutdown hook runs
        assert rows[0]["status"] == "pending"

        receiver.start()
        server.start()
        receiver.wait_for(lambda r: r.accepted[rows[0]["id"]] == 1, what="the delivery after the restart")
        Webhook(key["signing_secret"]).verify(receiver.received[0].body, receiver.received[0].headers)
    finally:
        receiver.stop()


def test_destination_resolving_to_a_private_address_is_refused(make_server: ServerFactory) -> None:
    server = make_server(SFUMATO_WEBHOOK_POLL_SECONDS="0.2")  # private destinations not allowed
    receiver = Receiver(free_port()).start()
    try:
        # `localhost` is a name: it is resolved at delivery time, and it resolves to loopback.
        key = webhook_key(server, "paul", f"http://localhost:{receiver.port}/hook")
        generation_id = generate(server, key["api_key"])
        deadline = time.monotonic() + 60
        while not (rows := [d for d in deliveries(server, "--failed") if d["object_id"] == generation_id]):
            assert time.monotonic() < deadline, "the delivery was not refused"
            time.sleep(0.2)
        [row] = rows
        assert row["attempts"] == 1, "a refused destination is final, not retried"
        assert "refused" in row["last_error"] and "loopback" in row["last_error"]
        assert "SFUMATO_WEBHOOK_ALLOW_PRIVATE" in row["last_error"]
        assert receiver.received == []
    finally:
        receiver.stop()
