"""One user's webhook deliveries (the web app's API Access page): the outbox rows of their jobs, newest first,
and a redeliver that touches only their own. The delivery rules themselves live in services/webhooks.py."""

from __future__ import annotations

from sqlalchemy import select

from sfumato.services.errors import NotFound
from sfumato.services.webhooks import DeliveryInfo, Webhooks
from sfumato.store.database import Database
from sfumato.store.models import WebhookDelivery


class UserWebhooks:
    def __init__(self, db: Database, webhooks: Webhooks) -> None:
        self._db = db
        self._webhooks = webhooks

    def list_for_user(self, user_id: str, limit: int = 20) -> list[DeliveryInfo]:
        with self._db.session() as s:
            query = (
                select(WebhookDelivery.id)
                .where(WebhookDelivery.user_id == user_id)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
                .limit(limit)
            )
            ids = list(s.scalars(query))
        return [self._webhooks.get(i) for i in ids]

    def redeliver(self, user_id: str, delivery_id: str) -> DeliveryInfo:
        """Queue one of the user's deliveries again (same webhook-id and body); another user's is not found."""
        with self._db.session() as s:
            row = s.get(WebhookDelivery, delivery_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"no webhook delivery {delivery_id!r} of yours; the list on API Access shows them")
        return self._webhooks.redeliver(delivery_id)
