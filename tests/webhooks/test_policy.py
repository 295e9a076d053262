"""The retry schedule, how answers are classified, and the Standard Webhooks signature."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from sfumato.jobs.webhook_delivery import RetryPolicy, classify_status, sign
from sfumato.services.webhooks import new_signing_secret


def test_backoff_starts_near_one_second_doubles_and_caps_at_ten_minutes() -> None:
    policy = RetryPolicy()
    nominal = [policy.nominal_delay(n) for n in range(1, 14)]
    assert nominal == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600]
    assert policy.nominal_delay(10_000) == 600  # no overflow however long it has been failing


def test_backoff_jitter_stays_within_a_quarter_below_the_nominal_delay() -> None:
    policy, rng = RetryPolicy(), random.Random(7)
    for n in (1, 3, 12):
        delays = [policy.delay(n, rng) for _ in range(500)]
        assert all(0.75 * policy.nominal_delay(n) <= d <= policy.nominal_delay(n) for d in delays)
        assert len({round(d, 6) for d in delays}) > 400, "delays must be spread, not in lockstep"


def test_24_hours_of_retries_is_about_a_hundred_and_fifty_attempts() -> None:
    policy, spent, attempts = RetryPolicy(), 0.0, 1
    while spent < policy.window.total_seconds():
        spent += policy.nominal_delay(attempts)
        attempts += 1
    assert 140 <= attempts <= 160
    assert policy.window == timedelta(hours=24)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (299, "delivered"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
        (599, "retry"),
        (400, "failed"),
        (401, "failed"),
        (404, "failed"),
        (410, "failed"),
        (301, "failed"),
        (302, "failed"),
        (307, "failed"),
    ],
)
def test_status_codes_are_delivered_retried_or_failed(status: int, outcome: str) -> None:
    assert classify_status(status) == outcome


def test_signature_is_what_standardwebhooks_computes_and_verifies() -> None:
    secret = new_signing_secret()
    assert secret.startswith("whsec_")
    body, msg_id, ts = b'{"type":"image_generation.complete"}', "msg_abc", 1_700_000_000
    ours = sign(secret, msg_id, ts, body)
    assert ours.startswith("v1,")
    assert ours == Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, UTC), body.decode())
    now = int(time.time())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, msg_id, now, body),
    }
    Webhook(secret).verify(body, headers)
    with pytest.raises(Exception):  # noqa: B017 — the package raises its own WebhookVerificationError
        Webhook(new_signing_secret()).verify(body, headers)
