"""The webhook delivery worker: sends the outbox rows (`webhook_deliveries`) that finished jobs wrote.

Policy, in one place (docs/webhooks.md says the same to users):
- a row is due when `status = pending` and `next_attempt_at <= now`; claiming it pushes `next_attempt_at`
  forward by a lease and stamps a fresh `lease_token`, so a sender that dies mid-attempt leaves a row that
  simply becomes due again, and a late sender whose lease was taken over cannot overwrite the new state;
- on PostgreSQL the claim selects with FOR UPDATE SKIP LOCKED, so many hosts share the outbox without
  sending a row twice at once; on SQLite (one process) the UPDATE guarded by status and due time decides;
- each attempt: POST with a 10 s limit, redirects not followed, Standard Webhooks signature;
- 2xx: delivered. Network error, 408, 429, 5xx: retried after base·2^(n-1) seconds (capped, with jitter)
  until the retry window (24 h) after creation has passed, then failed. Any other answer, or a refused
  destination: failed at once. Every attempt is recorded in `webhook_attempts`.
Delivery is at least once (a crash after the receiver answered but before the outcome is written repeats
the POST): receivers drop duplicates by `webhook-id`, which is the row's id and never changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from sfumato import __version__
from sfumato.jobs.webhook_safety import DestinationGuard, DestinationRefused
from sfumato.store.database import Database
from sfumato.store.models import WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

EXCERPT_CHARS = 500
USER_AGENT = f"Sfumato-Webhooks/{__version__}"
RETRYABLE_STATUS = frozenset({408, 429})


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; every timestamp we write is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 600.0
    window: timedelta = timedelta(hours=24)
    # Each delay is drawn from [(1 - jitter)·d, d], so receivers coming back up are not hit in lockstep.
    jitter: float = 0.25

    def nominal_delay(self, failures: int) -> float:
        """The delay after the n-th failed attempt (n >= 1), before jitter: base, 2·base, 4·base... cap."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(max(failures, 1) - 1, 60))

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        return self.nominal_delay(failures) * (1.0 - self.jitter * (rng or random).random())


def classify_status(status_code: int) -> str:
    """'delivered', 'retry' or 'failed' for a receiver's answer."""
    if 200 <= status_code < 300:
        return "delivered"
    if status_code in RETRYABLE_STATUS or status_code >= 500:
        return "retry"
    return "failed"  # other 4xx, and 3xx: redirects are not followed


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1 signature: HMAC-SHA256 of `{id}.{timestamp}.{body}` with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


@dataclass(frozen=True)
class Claimed:
    id: str
    lease_token: str
    attempts: int  # including this one
    url: str
    payload: str
    auth_key: str | None
    signing_secret: str | None
    expires_at: datetime


@dataclass(frozen=True)
class AttemptResult:
    outcome: str  # delivered | retry | failed
    status_code: int | None
    latency_ms: int
    detail: str | None


class WebhookDeliveryWorker:
    """A thread that claims due rows and sends them on a small pool. Started and stopped with the
    container, like the InProcessDispatcher. All state is in the database, so a restart loses nothing."""

    def __init__(
        self,
        db: Database,
        policy: RetryPolicy | None = None,
        guard: DestinationGuard | None = None,
        timeout_seconds: float = 10.0,
        poll_seconds: float = 1.0,
        concurrency: int = 4,
    ) -> None:
        self._db = db
        self._policy = policy or RetryPolicy()
        self._guard = guard or DestinationGuard()
        self._timeout = timeout_seconds
        self._poll = poll_seconds
        self._concurrency = max(1, concurrency)
        # Longer than any attempt can take, so a live sender never loses its row to another claimer.
        self._lease = timedelta(seconds=max(60.0, 3 * timeout_seconds))
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._slots = threading.Semaphore(self._concurrency)
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="sfumato-webhook")
        self._thread = threading.Thread(target=self._loop, name="sfumato-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._pool:
            # Attempts in flight finish (bounded by the timeout); rows not yet sent stay pending.
            self._pool.shutdown(wait=True, cancel_futures=True)
        with self._client_lock:
            if self._client:
                self._client.close()
                self._client = None

    def wake(self) -> None:
        """Look for due rows now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                found = self._dispatch_due()
            except Exception:
                log.exception("webhook worker could not claim deliveries")
                found = 0
            if not found:
                self._wake.wait(self._poll)
                self._wake.clear()

    def _dispatch_due(self) -> int:
        """Claim as many due rows as there are free senders and hand them to the pool."""
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        if not free:
            self._slots.acquire()  # wait for a sender to finish (each attempt is bounded by the timeout)
            free = 1
        claimed: list[Claimed] = []
        try:
            if not self._stopping.is_set():
                claimed = self.claim(free)
        finally:
            for _ in range(free - len(claimed)):
                self._slots.release()
        assert self._pool is not None
        for row in claimed:
            try:
                self._pool.submit(self._run_one, row)
            except RuntimeError:  # stopping: the row's lease runs out and it is sent after the restart
                self._slots.release()
        return len(claimed)

    def _run_one(self, row: Claimed) -> None:
        try:
            self.record(row, self.attempt(row))
        except Exception:
            # The lease runs out and the row is sent again: at least once, never silently dropped.
            log.exception("webhook delivery %s: attempt not recorded", row.id)
        finally:
            self._slots.release()

    # --- the three steps, public so tests and tools can drive them one at a time ---------------------------

    def claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        claimed: list[Claimed] = []
        with self._db.session() as s:
            due = (
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
            )
            if s.get_bind().dialect.name == "postgresql":
                # Rows another host is claiming right now are skipped, not waited for or taken twice.
                due = due.with_for_update(skip_locked=True)
            for delivery_id in s.scalars(due).all():
                token = secrets.token_hex(16)
                # Guarded by status and due time: a row someone else claimed in between is left alone.
                result = s.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == "pending",
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(
                        next_attempt_at=now + self._lease,
                        lease_token=token,
                        attempts=WebhookDelivery.attempts + 1,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                row = s.get(WebhookDelivery, delivery_id)
                assert row is not None
                expires = _aware(row.expires_at)
                claimed.append(
                    Claimed(
                        row.id, token, row.attempts, row.url, row.payload, row.auth_key, row.signing_secret, expires
                    )
                )
        return claimed

    def attempt(self, row: Claimed) -> AttemptResult:
        """One POST. Never raises for anything the receiver or the network does."""
        started = time.perf_counter()

        def result(outcome: str, code: int | None, detail: str | None) -> AttemptResult:
            latency = int((time.perf_counter() - started) * 1000)
            return AttemptResult(outcome, code, latency, detail[:EXCERPT_CHARS] if detail else detail)

        try:
            target = self._guard.pin(row.url)
        except DestinationRefused as exc:
            return result("failed", None, str(exc))
        except (OSError, UnicodeError, httpx.InvalidURL) as exc:
            return result("retry", None, f"could not resolve the webhook host: {exc}")
        body = row.payload.encode()
        timestamp = int(time.time())
        headers = {
            **target.headers,
            "content-type": "application/json",
            "accept": "application/json, text/plain, */*",
            "user-agent": USER_AGENT,
            "accept-encoding": "identity",  # the excerpt is read raw, and a small one
            # One request per connection: a pooled connection made for one name must not serve another.
            "connection": "close",
            "webhook-id": row.id,
            "webhook-timestamp": str(timestamp),
        }
        if row.signing_secret:
            headers["webhook-signature"] = sign(row.signing_secret, row.id, timestamp, body)
        if row.auth_key:
            headers["authorization"] = f"Bearer {row.auth_key}"
        client = self._http()
        try:
            request = client.build_request(
                "POST", target.url, content=body, headers=headers, extensions=target.extensions
            )
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            return result("retry", None, f"timed out after {self._timeout:g} s ({target.address})")
        except httpx.HTTPError as exc:
            return result("retry", None, f"{type(exc).__name__}: {exc} ({target.address})")
        try:
            excerpt = _read_excerpt(response)
        finally:
            response.close()
        outcome = classify_status(response.status_code)
        if 300 <= response.status_code < 400:
            excerpt = f"redirect to {response.headers.get('location', '?')} not followed; give the final URL"
        return result(outcome, response.status_code, excerpt)

    def _http(self) -> httpx.Client:
        # trust_env=False: a proxy from the environment would connect somewhere other than the checked address.
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(follow_redirects=False, timeout=self._timeout, trust_env=False)
            return self._client

    def record(self, row: Claimed, res: AttemptResult) -> str:
        """Store the attempt and move the row on; returns the row's new status ('' if the lease was lost)."""
        now = utcnow()
        values: dict[str, object] = {"updated_at": now, "lease_token": None, "last_error": None}
        if res.outcome == "delivered":
            values.update(status="delivered", delivered_at=now)
        elif res.outcome == "retry" and now < row.expires_at:
            values.update(next_attempt_at=now + timedelta(seconds=self._policy.delay(row.attempts)))
            values["last_error"] = _describe(res)
        else:
            why = _describe(res)
            if res.outcome == "retry":
                why = f"gave up: still failing when the retry window ended; last: {why}"
            values.update(status="failed", last_error=why)
        with self._db.session() as s:
            moved = s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id, WebhookDelivery.lease_token == row.lease_token)
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            # After the UPDATE this transaction holds the write lock: the row cannot vanish under us.
            if moved or s.get(WebhookDelivery, row.id) is not None:
                s.add(
                    WebhookAttempt(
                        delivery_id=row.id,
                        attempted_at=now,
                        status_code=res.status_code,
                        latency_ms=res.latency_ms,
                        outcome=res.outcome,
                        detail=res.detail,
                    )
                )
        status = str(values.get("status", "pending")) if moved else ""
        log.info(
            "webhook %s attempt %d: %s %s (%d ms)%s",
            row.id,
            row.attempts,
            res.status_code or "-",
            res.outcome,
            res.latency_ms,
            "" if moved else " [lease lost]",
        )
        return status


def _read_excerpt(response: httpx.Response) -> str:
    """At most a few KB of the answer: a huge or endless body is never read whole."""
    data = b""
    for chunk in response.iter_raw(1024):
        data += chunk
        if len(data) >= 4 * EXCERPT_CHARS:
            break
    return data.decode("utf-8", "replace")[:EXCERPT_CHARS]


def _describe(res: AttemptResult) -> str:
    code = f"HTTP {res.status_code}" if res.status_code else "no response"
    return (f"{code}: {res.detail}" if res.detail else code)[:EXCERPT_CHARS]
