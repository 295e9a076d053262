"""Limits that hold across API hosts: per-user concurrency slots (in the database, checked by the job
runner's claim, jobs/core/runner.py), the per-user queue cap over every kind of job (in the database, checked
when a job is created) and per-key request rate limits (fixed one-minute windows, in Redis when configured so
every API host counts together; in process memory otherwise, for the embedded default)."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import Busy, InvalidRequest, NotFound
from sfumato.store.database import Database
from sfumato.store.models import User, job_tables

WINDOW_SECONDS = 60
# Web app sign-in attempts (Grafana's rule): per user name in five minutes, and per client address in a minute.
LOGIN_WINDOW_SECONDS = 300
LOGIN_ATTEMPTS_PER_NAME = 5
LOGIN_ATTEMPTS_PER_CLIENT = 30
QUEUE_CAP = 200  # PENDING jobs per user, generations and variations together (SFUMATO_MAX_PENDING_PER_USER)


def set_concurrency_slots(db: Database, username: str, slots: int) -> str:
    """A user's `apiConcurrencySlots`: how many of their jobs run at once on the workers."""
    if not 1 <= slots <= 1000:
        raise InvalidRequest(f"slots must be between 1 and 1000, got {slots}")
    with db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        user.api_concurrency_slots = slots
        return user.id


def check_queue_cap(s: Session, user_id: str, max_pending: int) -> None:
    """429 (Busy) when the user already has `max_pending` jobs PENDING, generations and variations together.
    Call it in the transaction that adds the job: the lock on the user's row (PostgreSQL) makes two API hosts
    checking at once count one after the other, so the cap holds across hosts."""
    s.get(User, user_id, with_for_update=True)
    pending = sum(
        s.scalar(select(func.count()).select_from(t).where(t.user_id == user_id, t.status == JobStatus.PENDING)) or 0
        for t in job_tables()
    )
    if pending >= max_pending:
        raise Busy(
            f"you have {pending} jobs pending (generations and variations), the most allowed is "
            f"{max_pending}; wait for some to finish"
        )


class Counter(Protocol):
    def hit(self, key: str, window: int) -> int:
        """Count one request under `key` in the current window; returns the count so far."""
        ...


class MemoryCounter:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> int:
        slot = int(time.time()) // window
        with self._lock:
            if len(self._counts) > 100_000:  # drop past windows now and then
                self._counts = {k: v for k, v in self._counts.items() if k[1] == slot}
            count = self._counts.get((key, slot), 0) + 1
            self._counts[(key, slot)] = count
            return count


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2)

    def hit(self, key: str, window: int) -> int:
        slot = int(time.time()) // window
        name = f"sfumato:rl:{key}:{slot}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window * 2)
        count, _ = pipe.execute()
        return int(count)


class RateLimiter:
    def __init__(self, counter: Counter, per_minute: int, jobs_per_minute: int) -> None:
        self._counter = counter
        self.per_minute = per_minute
        self.jobs_per_minute = jobs_per_minute

    def check(self, key_id: str, is_job: bool) -> str | None:
        """None when the request may go on, else the message of the 429."""
        if self._counter.hit(f"all:{key_id}", WINDOW_SECONDS) > self.per_minute:
            return (
                f"Rate limit exceeded: at most {self.per_minute} requests per minute per API key; "
                "wait a minute and try again"
            )
        if is_job and self._counter.hit(f"jobs:{key_id}", WINDOW_SECONDS) > self.jobs_per_minute:
            return (
                f"Rate limit exceeded: at most {self.jobs_per_minute} job requests (generations, variations, "
                "motion, trainings, textures, blueprint runs) per minute per API key; wait a minute and try again"
            )
        return None

    def check_login(self, username: str, client: str) -> str | None:
        """None when a web sign-in attempt may go on, else the message to show (answered with a 429)."""
        if self._counter.hit(f"login:{username}", LOGIN_WINDOW_SECONDS) > LOGIN_ATTEMPTS_PER_NAME:
            return (
                f"Too many sign-in attempts for this username: at most {LOGIN_ATTEMPTS_PER_NAME} in "
                f"{LOGIN_WINDOW_SECONDS // 60} minutes; wait a few minutes and try again"
            )
        if self._counter.hit(f"login-ip:{client}", WINDOW_SECONDS) > LOGIN_ATTEMPTS_PER_CLIENT:
            return "Too many sign-in attempts from this address; wait a minute and try again"
        return None
