"""What services hand out about a training (a custom model or an element): a frozen view of its row, with the
internal state (queued, running with step i of n and an ETA, succeeded, failed, cancelled) that the CLI and the
web app show in full and the API shows as Leonardo's PENDING / COMPLETE / FAILED."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfumato.jobs.core.status import JobStatus
from sfumato.store.training import Training


@dataclass(frozen=True)
class TrainingView:
    id: str
    number: int | None  # an element's integer id
    target: str
    status: str
    failure_reason: str | None
    name: str
    description: str
    dataset_id: str
    instance_prompt: str
    instance_token: str | None
    base_model_id: str
    sd_version: str
    model_type: str | None
    strength: str | None
    nsfw: bool
    resolution: int
    focus: str | None
    train_text_encoder: bool
    num_train_epochs: int | None
    learning_rate: float | None
    step: int
    steps: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    adapter_key: str | None
    settings: dict
    claimed: bool = False  # PENDING and taken by a worker: running, not queued

    @property
    def state(self) -> str:
        """The internal state, fuller than the wire's PENDING / COMPLETE / FAILED."""
        if self.status == JobStatus.PENDING:
            return "running" if self.claimed else "queued"
        return {"COMPLETE": "succeeded", "FAILED": "failed", "CANCELLED": "cancelled"}.get(
            self.status, self.status.lower()
        )

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the pace so far; None until a step is done, and once it has ended."""
        if self.status != JobStatus.PENDING or not self.started_at or self.step <= 0 or self.steps <= self.step:
            return None
        started = self.started_at if self.started_at.tzinfo else self.started_at.replace(tzinfo=self.updated_at.tzinfo)
        elapsed = max(0.0, (self.updated_at - started).total_seconds())
        return elapsed / self.step * (self.steps - self.step)


def training_view(row: Training, number: int | None = None) -> TrainingView:
    return TrainingView(
        id=row.id,
        number=number,
        target=row.target,
        status=row.status,
        failure_reason=row.failure_reason,
        name=row.name,
        description=row.description,
        dataset_id=row.dataset_id,
        instance_prompt=row.instance_prompt,
        instance_token=row.instance_token,
        base_model_id=row.base_model_id,
        sd_version=row.sd_version,
        model_type=row.model_type,
        strength=row.strength,
        nsfw=row.nsfw,
        resolution=row.resolution,
        focus=row.focus,
        train_text_encoder=row.train_text_encoder,
        num_train_epochs=row.num_train_epochs,
        learning_rate=row.learning_rate,
        step=row.step,
        steps=row.steps,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        adapter_key=row.adapter_key,
        settings=dict(row.settings or {}),
        claimed=row.claimed_at is not None,
    )
