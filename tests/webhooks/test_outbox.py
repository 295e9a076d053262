"""The outbox and the delivery worker's state machine, step by step (claim, attempt, record) against a real
database and a real receiver on loopback, without the API server."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text, update

from sfumato.api.wire.webhooks import LeonardoWebhookBodies
from sfumato.jobs.webhook_delivery import RetryPolicy, WebhookDeliveryWorker
from sfumato.jobs.webhook_safety import DestinationGuard
from sfumato.services.webhooks import Webhooks, new_signing_secret
from sfumato.store.database import Database
from sfumato.store.models import ApiKey, Generation, User, WebhookAttempt, WebhookDelivery
from sfumato.testing.live_server import free_port
from tests.webhooks.support import Receiver

PG_ADMIN_URL = os.environ.get("SFUMATO_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/postgres")


def seed(db: Database, url: str) -> tuple[ApiKey, Generation]:
    user_id, key_id = str(uuid.uuid4()), str(uuid.uuid4())
    with db.session() as s:
        s.add(User(id=user_id, username=f"u-{user_id[:8]}"))
        s.flush()
        key = ApiKey(
            id=key_id,
            user_id=user_id,
            name="k",
            key_hash=uuid.uuid4().hex,
            key_hint="ab…cd",
            webhook_url=url,
            webhook_key="cb",
            signing_secret=new_signing_secret(),
        )
        gen = Generation(
            id=str(uuid.uuid4()),
            user_id=user_id,
            api_key_id=key_id,
            status="PENDING",
            model_id="m",
            model_path="/m",
            engine_prompt="p",
            prompt="p",
            width=64,
            height=64,
            num_images=1,
            num_inference_steps=10,
            guidance_scale=7.0,
            seed=1,
            scheduler="LEONARDO",
            preset_style="DYNAMIC",
            sd_version="v1_5",
        )
        s.add_all([key, gen])
    return key, gen


def finish(db: Database, webhooks: Webhooks, gen: Generation, fail_after: bool = False) -> None:
    """What the JobRunner does: mark the row finished and run the finish hook, in one transaction."""
    with db.session() as s:
        row = s.get(Generation, gen.id)
        assert row is not None
        row.status = "COMPLETE"
        webhooks.on_generation_finished(s, row)
        if fail_after:
            raise RuntimeError("crash before commit")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'outbox.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port()).start()
    yield r
    r.stop()


def make_worker(db: Database, **kwargs: object) -> WebhookDeliveryWorker:
    kwargs.setdefault("guard", DestinationGuard(allow_private=True))
    # Not started: the test drives the steps itself.
    return WebhookDeliveryWorker(db, **kwargs)  # type: ignore[arg-type]


def test_outbox_row_is_written_with_the_finish_or_not_at_all(db: Database, receiver: Receiver) -> None:
    webhooks = Webhooks(db, "http://img.test", LeonardoWebhookBodies())
    key, gen = seed(db, receiver.url)
    with pytest.raises(RuntimeError):
        finish(db, webhooks, gen, fail_after=True)
    with db.session() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []
        assert s.get(Generation, gen.id).status == "PENDING"  # type: ignore[union-attr]
    finish(db, webhooks, gen)
    with db.session() as s:
        [row] = s.scalars(select(WebhookDelivery)).all()
    assert row.status == "pending" and row.attempts == 0 and row.url == receiver.url
    assert row.event_type == "image_generation.complete" and row.object_id == gen.id
    assert row.auth_key == "cb" and row.signing_secret == key.signing_secret


def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(db: Database, receiver: Receiver) -> None:
    _, gen = seed(db, receiver.url)
    finish(db, Webhooks(db, "http://img.test", LeonardoWebhookBodies()), gen)
    worker = make_worker(db)
    [first] = worker.claim(10)
    assert worker.claim(10) == []
    with db.session() as s:  # the sender died: its lease runs out
        s.execute(update(WebhookDelivery).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    [second] = worker.claim(10)
    assert second.id == first.id and second.lease_token != first.lease_token and second.attempts == 2
    # The first sender comes back late: its outcome must not overwrite the new holder's state.
    assert worker.record(first, worker.attempt(first)) == ""
    assert worker.record(second, worker.attempt(second)) == "delivered"
    assert receiver.accepted[first.id] == 2  # at least once: the receiver dedups by webhook-id
    with db.session() as s:
        assert len(s.scalars(select(WebhookAttempt)).all()) == 2


def test_retryable_failures_are_rescheduled_with_backoff_then_fail_after_the_window(
    db: Database, receiver: Receiver
) -> None:
    receiver.responder = lambda _id, _n: 503
    _, gen = seed(db, receiver.url)
    finish(db, Webhooks(db, "http://img.test", LeonardoWebhookBodies()), gen)
    worker = make_worker(db, policy=RetryPolicy(base_seconds=30, cap_seconds=600))
    [row] = worker.claim(1)
    before = datetime.now(UTC)
    assert worker.record(row, worker.attempt(row)) == "pending"
    with db.session() as s:
        stored = s.get(WebhookDelivery, row.id)
        assert stored is not None and stored.status == "pending" and "HTTP 503" in (stored.last_error or "")
        wait = stored.next_attempt_at.replace(tzinfo=UTC) - before
        assert timedelta(seconds=22) <= wait <= timedelta(seconds=31)  # 30 s less up to 25 % jitter
        # 24 hours later it is still failing: it gives up.
        stored.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
        stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    [row] = worker.claim(1)
    assert worker.record(row, worker.attempt(row)) == "failed"
    with db.session() as s:
        stored = s.get(WebhookDelivery, row.id)
        assert stored is not None and stored.last_error and stored.last_error.startswith("gave up")


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (404, "receiver says no"),
        ((302, {"location": "http://elsewhere.test/"}, b""), "redirect to http://elsewhere.test/ not followed"),
    ],
)
def test_other_4xx_and_redirects_fail_at_once(db: Database, receiver: Receiver, answer: object, detail: str) -> None:
    receiver.responder = lambda _id, _n: answer  # type: ignore[assignment,return-value]
    _, gen = seed(db, receiver.url)
    finish(db, Webhooks(db, "http://img.test", LeonardoWebhookBodies()), gen)
    worker = make_worker(db)
    [row] = worker.claim(1)
    result = worker.attempt(row)
    assert result.outcome == "failed" and result.detail and detail in result.detail
    assert worker.record(row, result) == "failed"
    assert len(receiver.received) == 1  # the redirect was not followed


def test_timeouts_are_retried_and_long_bodies_are_cut_to_an_excerpt(db: Database, receiver: Receiver) -> None:
    _, gen = seed(db, receiver.url)
    finish(db, Webhooks(db, "http://img.test", LeonardoWebhookBodies()), gen)
    worker = make_worker(db, timeout_seconds=0.3)
    receiver.delay_seconds = 1.0
    [row] = worker.claim(1)
    result = worker.attempt(row)
    assert result.outcome == "retry" and result.status_code is None and "timed out" in (result.detail or "")
    assert 250 <= result.latency_ms < 2000

    receiver.delay_seconds = 0
    receiver.responder = lambda _id, _n: (500, {}, b"x" * 100_000)
    result = worker.attempt(row)
    assert result.outcome == "retry" and result.status_code == 500 and result.detail == "x" * 500


def test_the_request_goes_to_the_resolved_address_with_the_name_in_host(db: Database, receiver: Receiver) -> None:
    _, gen = seed(db, f"http://localhost:{receiver.port}/hook")
    finish(db, Webhooks(db, "http://img.test", LeonardoWebhookBodies()), gen)
    worker = make_worker(db, guard=DestinationGuard(resolver=lambda _h, _p: ["127.0.0.1"], allow_private=True))
    [row] = worker.claim(1)
    assert worker.attempt(row).outcome == "delivered"
    assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
    assert receiver.received[0].path == "/hook"


def test_redeliver_requeues_with_the_same_id_and_a_fresh_window(db: Database, receiver: Receiver) -> None:
    webhooks = Webhooks(db, "http://img.test", LeonardoWebhookBodies())
    _, gen = seed(db, receiver.url)
    finish(db, webhooks, gen)
    worker = make_worker(db)
    [row] = worker.claim(1)
    worker.record(row, worker.attempt(row))
    [listed] = webhooks.list_deliveries()
    assert listed.status == "delivered" and listed.history[0].status_code == 200
    again = webhooks.redeliver(row.id)
    assert again.status == "pending" and again.attempts == 0
    [row2] = worker.claim(1)
    assert row2.id == row.id and worker.record(row2, worker.attempt(row2)) == "delivered"
    assert receiver.accepted[row.id] == 2 and len(webhooks.get(row.id).history) == 2


@pytest.fixture
def pg_db() -> Iterator[Database]:
    """A throwaway database on the machine's PostgreSQL."""
    try:
        admin = create_engine(
            PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as c:
            name = f"sfumato_webhooks_{uuid.uuid4().hex[:10]}"
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"no PostgreSQL at {PG_ADMIN_URL} (the test suite needs the machine's PostgreSQL): {exc}")
    database = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
    database.upgrade()
    yield database
    database.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgres_claims_with_skip_locked_never_hand_a_row_to_two_hosts(pg_db: Database) -> None:
    webhooks = Webhooks(pg_db, "http://img.test", LeonardoWebhookBodies())
    for _ in range(60):
        _, gen = seed(pg_db, "http://127.0.0.1:9/")
        finish(pg_db, webhooks, gen)
    # Four "hosts" (workers with their own connections) claim at the same moment, again and again.
    workers = [WebhookDeliveryWorker(Database(str(pg_db.engine.url.render_as_string(False)))) for _ in range(4)]
    claimed: list[list[str]] = [[] for _ in workers]
    barrier = threading.Barrier(len(workers))

    def run(i: int) -> None:
        barrier.wait()
        while batch := workers[i].claim(3):
            claimed[i].extend(c.id for c in batch)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    everything = [i for ids in claimed for i in ids]
    assert len(everything) == 60 and len(set(everything)) == 60
    assert sum(1 for ids in claimed if ids) >= 2, "the hosts should have shared the work"
    for w in workers:
        w._db.dispose()


def test_two_workers_deliver_a_burst_exactly_once_to_a_flaky_receiver(db: Database, receiver: Receiver) -> None:
    rng, lock = random.Random(5), threading.Lock()

    def flaky(_id: str, _seen: int) -> int:
        with lock:
            return 500 if rng.random() < 0.5 else 200

    receiver.responder = flaky
    webhooks = Webhooks(db, "http://img.test", LeonardoWebhookBodies())
    count = 300
    generations = [seed(db, receiver.url)[1] for _ in range(count)]
    for i in range(0, count, 10):  # ten finishes per transaction
        with db.session() as s:
            for gen in generations[i : i + 10]:
                row = s.get(Generation, gen.id)
                assert row is not None
                row.status = "COMPLETE"
                webhooks.on_generation_finished(s, row)
    policy = RetryPolicy(base_seconds=0.02, cap_seconds=0.2)
    # Two senders on their own connections to one SQLite file: the guarded claim keeps them apart.
    workers = [
        WebhookDeliveryWorker(
            Database(str(db.engine.url)), policy, DestinationGuard(allow_private=True), poll_seconds=0.05, concurrency=6
        )
        for _ in range(2)
    ]
    started = time.monotonic()
    for w in workers:
        w.start()
    try:
        receiver.wait_for(lambda r: len(r.accepted) >= count, timeout=120, what=f"{count} deliveries")
        time.sleep(0.5)
    finally:
        for w in workers:
            w.stop()
    assert len(receiver.accepted) == count and set(receiver.accepted.values()) == {1}
    assert sum(1 for r in receiver.received if r.status == 500) > count / 3  # it really was flaky
    with db.session() as s:
        statuses = s.scalars(select(WebhookDelivery.status)).all()
    assert statuses.count("delivered") == count
    print(f"\nburst: {count} deliveries, {len(receiver.received)} POSTs in {time.monotonic() - started:.1f}s")
