"""What a webhook body is made from, in our own names. The bodies themselves (Leonardo's key names and quirks)
are rendered by api/wire/webhooks.py, which the composition root hands to the Webhooks service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sfumato.services.generations.types import GenerationView
from sfumato.services.training.trainings import TrainingView
from sfumato.services.urls import FileUrls
from sfumato.store.models import ApiKey


@dataclass(frozen=True)
class ModelInfo:
    """What the bodies need of a catalog model (the catalog's ModelEntry has more)."""

    id: str
    name: str
    description: str
    sd_version: str
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class KeyRecord:
    """The API key a job was made with; `hint` only: the secret is never stored, so never sent."""

    id: str
    user_id: str
    name: str
    hint: str
    created_at: datetime | None
    last_used_at: datetime | None
    webhook_url: str | None
    webhook_key: str | None


def key_record(key: ApiKey) -> KeyRecord:
    return KeyRecord(
        key.id, key.user_id, key.name, key.key_hint, key.created_at, key.last_used_at, key.webhook_url, key.webhook_key
    )


@dataclass(frozen=True)
class VariationRecord:
    """A finished post-processing job (upscale, unzoom, no-background)."""

    id: str
    status: str  # COMPLETE | FAILED | CANCELLED
    transform_type: str  # UPSCALE | UNZOOM | NOBG | ...
    generated_image_id: str | None  # None: a universal upscale of an uploaded init image
    created_at: datetime
    updated_at: datetime
    image_id: str | None = None
    token: str | None = None
    transparent: bool = False
    file_key: str | None = None
    cost: int = 0  # credits the job cost its user (0 once refunded)


class WebhookBodies(Protocol):
    """Renders an event's body; its "type" key names the event (api/wire/webhooks.py: Leonardo's shape)."""

    def generation(
        self,
        g: GenerationView,
        key: KeyRecord,
        model: ModelInfo | None,
        base_url: str,
        now: datetime,
        urls: FileUrls,
        cost: int = 0,
    ) -> dict[str, Any]: ...

    def variation(
        self, v: VariationRecord, key: KeyRecord, base_url: str, now: datetime, urls: FileUrls
    ) -> dict[str, Any]: ...

    def training(self, t: TrainingView, key: KeyRecord, now: datetime) -> dict[str, Any]: ...
