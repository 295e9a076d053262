"""Cross-request batching: which waiting jobs may join the one a worker has just claimed.

A worker takes what the database holds at that moment: PENDING jobs of the same kind whose batch key equals the
claimed job's, not held by a live worker, not being cancelled, oldest first, until the batch limit (counted in
images) is reached. Fairness: candidates are taken round-robin by user (each user's oldest first), and no user
gets more jobs into one batch than their `apiConcurrencySlots`; on Celery workers the claim itself enforces the
slots across every worker as well. Whoever runs the batch claims each job through the normal claim, so a job
that another worker took in between is simply left out."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from sfumato.jobs.core.kinds import JobKindSpec
from sfumato.jobs.core.status import JobStatus
from sfumato.store.database import Database
from sfumato.store.models import User

CANDIDATES_SCANNED = 64  # the oldest waiting jobs looked at; enough for any batch limit a device holds


def batch_candidates(db: Database, spec: JobKindSpec, first: Any, limit: int, lease_seconds: float | None) -> list[str]:
    """Ids of the jobs that may join `first` (already claimed), in the order they should be claimed."""
    batching = spec.batching
    if batching is None or limit <= 1:
        return []
    key = batching.key(first)
    room = limit - batching.weight(first)
    if key is None or room <= 0:
        return []
    t = spec.table
    free: ColumnElement[bool] = t.claimed_at.is_(None)
    if lease_seconds is not None:  # a job whose worker stopped renewing its lease is free again
        free = or_(free, t.claimed_at < datetime.now(UTC) - timedelta(seconds=lease_seconds))
    with db.session() as s:
        query = (
            select(t)
            .where(t.status == JobStatus.PENDING, spec.mine(), t.id != first.id, t.cancel_requested_at.is_(None), free)
            .order_by(t.created_at)
            .limit(CANDIDATES_SCANNED)
        )
        rows = [r for r in s.scalars(query) if batching.key(r) == key]
        users = {r.user_id for r in rows} | {first.user_id}
        slots = dict(s.execute(select(User.id, User.api_concurrency_slots).where(User.id.in_(users))).all())
    by_user: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    taken: dict[str, int] = defaultdict(int, {first.user_id: 1})
    chosen: list[str] = []
    # Round-robin: the next job is the oldest of the user with the fewest jobs in the batch so far.
    while room > 0:
        open_users = [u for u, queue in by_user.items() if queue and taken[u] < slots.get(u, 1)]
        if not open_users:
            break
        user = min(open_users, key=lambda u: (taken[u], by_user[u][0].created_at))
        row = by_user[user].pop(0)
        weight = batching.weight(row)
        if weight > room:
            by_user[user].clear()  # a bigger job of this user waits for its own turn; keep their order
            continue
        chosen.append(row.id)
        taken[user] += 1
        room -= weight
    return chosen
