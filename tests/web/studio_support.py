"""What the Generate / History / Get API Code tests share: a generating server, rows in a chosen state (a
PENDING or FAILED generation that no worker will touch), and a browser signed in once per module."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from sfumato.store.database import Database
from sfumato.store.models import Generation
from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer


def database(server: LiveServer) -> Database:
    return Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}")


def add_generation(server: LiveServer, user_id: str, status: str, prompt: str, reason: str | None = None) -> str:
    """A generation row as the service leaves it, never dispatched: it stays in `status` (for a page's
    PENDING and FAILED states)."""
    db = database(server)
    row_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            Generation(
                id=row_id, user_id=user_id, status=status, failure_reason=reason, model_id=TINY_MODEL_ID,
                model_path="/none", engine_prompt=prompt, prompt=prompt, width=64, height=64, num_images=1,
                num_inference_steps=10, guidance_scale=7.0, seed=1, scheduler="EULER_DISCRETE",
                preset_style="DYNAMIC", sd_version="v1_5", options={}, created_at=datetime.now(UTC),
                # A job kind no worker runs (jobs/core/kinds.py: JobKindSpec.owns): it stays PENDING.
                job_kind="held-by-test" if status == "PENDING" else "generation",
            )
        )  # fmt: skip
    db.dispose()
    return row_id
