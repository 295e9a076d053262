"""Bounded load (loopback only): many real tiny generations finish while the receiver answers 500 half of
the time; every completion must land in the receiver's dedup table exactly once."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from sfumato.testing.live_server import LiveServer
from tests.webhooks.conftest import ServerFactory
from tests.webhooks.support import FAST_WEBHOOKS, Receiver, deliveries, generate, webhook_key

# The figure: 200 generations (SFUMATO_WEBHOOK_LOAD_COUNT overrides it for a quick local run).
COUNT = int(os.environ.get("SFUMATO_WEBHOOK_LOAD_COUNT", "200"))


@pytest.fixture(scope="module")
def hook_server(make_server: ServerFactory) -> LiveServer:
    """One key submits all the generations at once: the operator raises the per-key job rate (100/min)."""
    return make_server(**FAST_WEBHOOKS, SFUMATO_RATE_LIMIT_JOBS_PER_MINUTE=str(COUNT * 10))


@pytest.mark.timeout(COUNT * 12 + 300)
def test_generations_with_a_flaky_receiver_are_each_delivered_exactly_once(
    hook_server: LiveServer, receiver: Receiver
) -> None:
    rng, rng_lock = random.Random(20231109), threading.Lock()

    def flaky(_id: str, _seen: int) -> int:
        with rng_lock:
            return 500 if rng.random() < 0.5 else 200

    receiver.responder = flaky
    receiver.start()
    key = webhook_key(hook_server, "loadtest", receiver.url)
    started = time.monotonic()
    generation_ids: list[str] = []
    for i in range(COUNT):
        generation_ids.append(generate(hook_server, key["api_key"], prompt=f"load {i}"))
    submitted = time.monotonic() - started

    receiver.wait_for(lambda r: len(r.accepted) >= COUNT, timeout=COUNT * 12 + 120, what=f"{COUNT} deliveries")
    elapsed = time.monotonic() - started
    time.sleep(2)  # anything sent twice would show up now (retry cap is 1 s in these tests)

    bodies = {r.webhook_id: r.json for r in receiver.received if r.status == 200}
    assert sorted(b["data"]["object"]["id"] for b in bodies.values()) == sorted(generation_ids)
    assert len(receiver.accepted) == COUNT
    duplicates = {i: n for i, n in receiver.accepted.items() if n != 1}
    assert duplicates == {}, f"delivered more than once: {duplicates}"
    rows = [d for d in deliveries(hook_server) if d["object_id"] in set(generation_ids)]
    assert len(rows) == COUNT and {d["status"] for d in rows} == {"delivered"}
    assert {d["id"] for d in rows} == set(receiver.accepted)
    failures = sum(1 for r in receiver.received if r.status == 500)
    print(
        f"\nwebhook load: {COUNT} generations, submitted in {submitted:.1f}s, all delivered after {elapsed:.1f}s; "
        f"{len(receiver.received)} POSTs ({failures} answered 500), duplicates in the dedup table: 0"
    )
