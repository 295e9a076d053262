"""Concurrent charges on PostgreSQL: 30 simultaneous POST /generations against a balance that pays for exactly 7.
Exactly 7 are accepted (the rest get 402), the balance ends at 0 (subscription tokens first, then paid), and the
ledger holds 7 charges that add up to the balance spent: no overdraft, no double charge."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from sfumato.services.credits import Credits
from sfumato.store.database import Database
from sfumato.testing.cluster import scratch_database
from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer, free_port, server_env

REQUESTS = 30
# 512x512, one image, 20 steps: 2 x 20/15 = 2.67 -> 3 credits; 10 subscription + 11 paid = 21 = 7 jobs.
BODY = {"prompt": "a red circle", "modelId": TINY_MODEL_ID, "width": 512, "height": 512, "num_images": 1,
        "num_inference_steps": 20}  # fmt: skip


@pytest.fixture(scope="module")
def pg_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    root = tmp_path_factory.mktemp("credits-pg")
    with scratch_database("sfumato_credits") as url:
        env = {**server_env(root / "data", tiny_catalog), "SFUMATO_DATABASE_URL": url,
               "SFUMATO_PRELOAD_DEFAULT_MODEL": "false", "SFUMATO_SHUTDOWN_GRACE_SECONDS": "1"}  # fmt: skip
        server = LiveServer(env, free_port(), root / "server.log")
        server.start()
        try:
            yield server, url
        finally:
            server.stop()


def test_thirty_simultaneous_requests_against_a_balance_for_seven(pg_server: tuple[LiveServer, str]) -> None:
    server, url = pg_server
    key = server.user("conny")["api_key"]
    db = Database(url)
    operator = Credits(db)  # what `sfumato users set` calls, in this process (a process start saved)
    operator.set_balance("conny", credits=11, monthly=10)
    start = threading.Barrier(REQUESTS)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
            start.wait()
            return c.post("/generations", json=BODY)

    with ThreadPoolExecutor(REQUESTS) as pool:
        answers = list(pool.map(post, range(REQUESTS)))
    accepted = [a.json()["sdGenerationJob"] for a in answers if a.status_code == 200]
    refused = [a.json() for a in answers if a.status_code == 402]
    assert (len(accepted), len(refused)) == (7, 23), [a.status_code for a in answers]
    assert all(job["apiCreditCost"] == 3 for job in accepted)
    assert all("costs 3 credits" in r["error"] and "your balance is" in r["error"] for r in refused)

    user_id = server.user("conny")["user_id"]
    balance, book = operator.balance(user_id), operator.ledger(user_id)
    db.dispose()
    assert (balance.subscription_tokens, balance.paid_tokens) == (0, 0)
    assert sorted(c.job_id or "" for c in book) == sorted(j["generationId"] for j in accepted)
    assert sum(c.amount for c in book) == 21 and all(c.enforced and c.refunded_at is None for c in book)
    with psycopg.connect(url) as db:  # what the database holds, not what the server says
        jobs = db.execute("SELECT count(*) FROM generations").fetchone()
        taken = db.execute("SELECT sum(from_subscription), sum(from_paid) FROM credit_charges").fetchone()
    assert jobs == (7,) and taken == (10, 11)
