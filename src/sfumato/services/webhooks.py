"""Webhooks: URL checks and signing secrets for keys, the outbox that finished jobs write to, and the
operator's view (list, redeliver). Sending lives in jobs/webhook_delivery.py, which reads only the rows.

The outbox row is written by a JobRunner finish hook, inside the transaction that marks the job COMPLETE or
FAILED: the notification exists exactly when the result does, and is never lost to a crash in between.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from sfumato.services.catalog import Catalog
from sfumato.services.credits import Credits
from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.generations import generation_view
from sfumato.services.training.trainings import training_view
from sfumato.services.urls import LOCAL_URLS, FileUrls
from sfumato.services.webhook_records import ModelInfo, VariationRecord, WebhookBodies, key_record
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import ApiKey, GeneratedImage, Generation, WebhookAttempt, WebhookDelivery
from sfumato.store.training import ElementNumber, Training

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048
# Looks a model up by id for the payload's `model` record; None when the server no longer has it.
ModelLookup = Callable[[str], ModelInfo | None]


def catalog_model_lookup(catalog: Catalog) -> ModelLookup:
    def lookup(model_id: str) -> ModelInfo | None:
        try:
            e = catalog.get(model_id)
        except NotFound:
            return None
        size = e.native_size or (e.default_width, e.default_height)
        return ModelInfo(e.id, e.name, e.description, e.sd_version, size[0], size[1])

    return lookup


def validate_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host. Private destinations are checked at delivery time instead,
    against the address actually connected to (DNS may change between now and then)."""
    url = url.strip()
    hint = "send an absolute http:// or https:// URL such as https://example.com/hooks/leonardo"
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise InvalidRequest(f"webhook_url is empty, too long or contains spaces; {hint}", field="webhook_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises on a port that is not a number
    except ValueError as exc:
        raise InvalidRequest(f"webhook_url is not a valid URL ({exc}); {hint}", field="webhook_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"webhook_url must be http(s) with a host, got {url!r}; {hint}", field="webhook_url")
    return url


def new_signing_secret() -> str:
    """Standard Webhooks format: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_delivery_id() -> str:
    return "msg_" + uuid.uuid4().hex


@dataclass(frozen=True)
class AttemptInfo:
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class DeliveryInfo:
    id: str
    event_type: str
    object_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    history: list[AttemptInfo]


def _info(row: WebhookDelivery, history: list[WebhookAttempt]) -> DeliveryInfo:
    return DeliveryInfo(
        id=row.id,
        event_type=row.event_type,
        object_id=row.object_id,
        url=row.url,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
        history=[AttemptInfo(a.attempted_at, a.status_code, a.latency_ms, a.outcome, a.detail) for a in history],
    )


class Webhooks:
    def __init__(
        self,
        db: Database,
        public_url: str,
        bodies: WebhookBodies,
        model_lookup: ModelLookup | None = None,
        retry_window: timedelta = timedelta(hours=24),
        urls: FileUrls = LOCAL_URLS,
    ) -> None:
        self._db = db
        self._public_url = public_url
        self._bodies = bodies  # Leonardo's shapes (api/wire/webhooks.py), injected by the composition root
        self._urls = urls  # the same URL shape as the API's responses
        self._model_lookup = model_lookup
        self._retry_window = retry_window
        # Called after a transaction that enqueued commits (the worker's wake()), so a delivery goes out
        # at once instead of at the worker's next poll.
        self.notify: Callable[[], None] | None = None

    # --- the outbox -------------------------------------------------------------------------------------

    def enqueue(self, s: Session, key: ApiKey, event_type: str, object_id: str, payload: dict[str, Any]) -> str:
        """Write one delivery in the caller's transaction. Every job kind (generation, variation, motion,
        training) ends here with its own builder's payload; the worker does the rest."""
        now = datetime.now(UTC)
        row = WebhookDelivery(
            id=new_delivery_id(),
            user_id=key.user_id,
            api_key_id=key.id,
            event_type=event_type,
            object_id=object_id,
            url=key.webhook_url or "",
            auth_key=key.webhook_key,
            signing_secret=key.signing_secret,
            # Compact and fixed now: every attempt sends (and signs) exactly these bytes.
            payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            expires_at=now + self._retry_window,
            created_at=now,
            updated_at=now,
        )
        s.add(row)
        if self.notify is not None:
            notify = self.notify
            event.listen(s, "after_commit", lambda _session: notify(), once=True)
        return row.id

    def on_generation_finished(self, s: Session, row: Generation) -> None:
        """JobRunner finish hook, run inside the finishing transaction: the job and its notification are
        committed together or not at all. It only reads and adds rows, so it has nothing else to fail on."""
        key = s.get(ApiKey, row.api_key_id) if row.api_key_id else None
        if key is None or not key.webhook_url:
            return
        # Autoflush makes the images the runner just added in this transaction visible here.
        images = list(s.scalars(select(GeneratedImage).where(GeneratedImage.generation_id == row.id)))
        view = generation_view(row, images)
        model = self._model(row.model_id)
        cost = Credits.net_cost(s, row.id)  # after the refund hook, which runs first: 0 for a refunded job
        now = datetime.now(UTC)
        payload = self._bodies.generation(view, key_record(key), model, self._public_url, now, self._urls, cost)
        self.enqueue(s, key, payload["type"], row.id, payload)

    def on_variation_finished(self, s: Session, row: ImageVariation) -> None:
        """VariationRunner finish hook: `post_processing.complete` (or `.failed`), same outbox, same rules."""
        key = s.get(ApiKey, row.api_key_id) if row.api_key_id else None
        if key is None or not key.webhook_url:
            return
        now = datetime.now(UTC)
        record = VariationRecord(
            id=row.id,
            status=row.status,
            transform_type=row.transform_type,
            generated_image_id=row.generated_image_id,
            created_at=row.created_at,
            updated_at=now,
            image_id=row.id if row.file_key else None,
            token=row.token,
            transparent=row.transparent,
            file_key=row.file_key,
            cost=Credits.net_cost(s, row.id),
        )
        payload = self._bodies.variation(record, key_record(key), self._public_url, now, self._urls)
        self.enqueue(s, key, payload["type"], row.id, payload)

    def on_training_finished(self, s: Session, row: Training) -> None:
        """Training finish hook: Sfumato's own `model_training.*` / `element_training.*` events (Leonardo documents
        none for trainings; docs/webhooks.md), same outbox, same rules."""
        key = s.get(ApiKey, row.api_key_id) if row.api_key_id else None
        if key is None or not key.webhook_url:
            return
        number = s.scalar(select(ElementNumber.id).where(ElementNumber.training_id == row.id))
        payload = self._bodies.training(training_view(row, number), key_record(key), datetime.now(UTC))
        self.enqueue(s, key, payload["type"], row.id, payload)

    def _model(self, model_id: str) -> ModelInfo | None:
        if self._model_lookup is None:
            return None
        try:
            return self._model_lookup(model_id)
        except Exception:  # a catalog problem must not hold back the notification
            log.warning("model %s not found for a webhook payload", model_id, exc_info=True)
            return None

    # --- the operator's view ----------------------------------------------------------------------------

    def list_deliveries(self, failed_only: bool = False, limit: int = 100) -> list[DeliveryInfo]:
        with self._db.session() as s:
            query = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc()).limit(limit)
            if failed_only:
                query = query.where(WebhookDelivery.status == "failed")
            rows = s.scalars(query).all()
            return [_info(r, self._history(s, r.id)) for r in rows]

    def get(self, delivery_id: str) -> DeliveryInfo:
        with self._db.session() as s:
            row = s.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id!r}; `sfumato webhooks list` shows the ids")
            return _info(row, self._history(s, row.id))

    def redeliver(self, delivery_id: str) -> DeliveryInfo:
        """Queue a delivery again, whatever its state: same id (so `webhook-id`) and body, new attempts,
        a fresh retry window."""
        now = datetime.now(UTC)
        with self._db.session() as s:
            row = s.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id!r}; `sfumato webhooks list` shows the ids")
            row.status, row.attempts, row.next_attempt_at = "pending", 0, now
            row.expires_at, row.lease_token, row.last_error = now + self._retry_window, None, None
        return self.get(delivery_id)

    def counts(self) -> dict[str, int]:
        with self._db.session() as s:
            rows = s.execute(select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)).all()
        return {status: n for status, n in rows}

    @staticmethod
    def _history(s: Session, delivery_id: str) -> list[WebhookAttempt]:
        query = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id).order_by(WebhookAttempt.id)
        return list(s.scalars(query))
