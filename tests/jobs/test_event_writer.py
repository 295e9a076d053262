"""A running job's progress and log lines are written by the events' writer thread, not the job's: the job
never waits for a commit, its events keep their order, its `done` comes after all of them, a failed write
costs one event and nothing else, and a job deleted while it runs leaves no event behind."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from sfumato.bootstrap import Container, build
from sfumato.jobs.core.events import JobDone, JobEvents, JobLog, JobProgress, JobStarted
from sfumato.settings import Settings
from sfumato.store.models import JobEvent
from sfumato.testing.echo_kind import ECHO, EchoJob, add_echo
from sfumato.testing.jobs import FlatEngine
from sfumato.testing.live_server import TINY_MODEL_ID

SLOW_WRITE = 0.15


@pytest.fixture
def app(tmp_path: Path, tiny_catalog: Path) -> Iterator[Container]:
    settings = Settings(
        data_dir=tmp_path / "data",
        catalog_dir=tiny_catalog,
        default_model_id=TINY_MODEL_ID,
        job_kind_plugins="sfumato.testing.echo_kind:register",
        log_level="WARNING",
    )
    c = build(settings, engine=FlatEngine())  # type: ignore[arg-type]
    try:
        yield c
    finally:
        c.stop()


def slow_writes(events: JobEvents, monkeypatch: pytest.MonkeyPatch, fail_first: bool = False) -> list[str]:
    """Every write takes SLOW_WRITE seconds (a busy database); optionally the first one fails."""
    write = events._write
    calls: list[str] = []

    def slow(kind: str, job_id: str, user_id: str, event: object) -> None:
        calls.append(type(event).__name__)
        time.sleep(SLOW_WRITE)
        if fail_first and len(calls) == 1:
            raise RuntimeError("database is locked")
        write(kind, job_id, user_id, event)  # type: ignore[arg-type]

    monkeypatch.setattr(events, "_write", slow)
    return calls


def wait_final(c: Container, job_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with c.db.session() as s:
            row = s.get(EchoJob, job_id)
            if row is None or row.status != "PENDING":
                return "DELETED" if row is None else row.status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still PENDING")


def test_publish_later_returns_at_once_and_flush_waits_for_the_writes(
    app: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = app.runner.events
    slow_writes(events, monkeypatch)
    user_id, _ = app.accounts.create_user("u")
    job = add_echo(app.db, user_id, TINY_MODEL_ID)
    started = time.monotonic()
    for step in range(1, 5):
        events.publish_later(ECHO, job, user_id, JobProgress(step, 4))
    events.publish_later(ECHO, job, user_id, JobLog("last"))
    assert time.monotonic() - started < 2 * SLOW_WRITE  # the caller never waited for a write
    assert len(events.read(job)) < 5
    events.flush(job)
    assert time.monotonic() - started >= 5 * SLOW_WRITE
    assert [r.event for r in events.read(job)] == [*(JobProgress(i, 4) for i in range(1, 5)), JobLog("last")]
    events.flush(job)  # nothing queued: returns at once


def test_a_jobs_done_comes_after_its_slowly_written_progress(app: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    slow_writes(app.runner.events, monkeypatch)
    app.start()
    user_id, _ = app.accounts.create_user("u")
    job = add_echo(app.db, user_id, TINY_MODEL_ID, steps=4, step_seconds=0.0, message="hi")
    app.dispatcher.submit(ECHO, job)
    assert wait_final(app, job) == "COMPLETE"
    records = app.runner.events.read(job)
    kinds = [type(r.event) for r in records]
    assert kinds == [JobStarted, JobProgress, JobProgress, JobLog, JobDone]  # steps 1 and 4 (the throttle)
    assert [r.seq for r in records] == sorted(r.seq for r in records)
    assert records[-1].event == JobDone("COMPLETE", None)


def test_a_failed_event_write_loses_that_event_only(app: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = slow_writes(app.runner.events, monkeypatch, fail_first=True)
    app.start()
    user_id, _ = app.accounts.create_user("u")
    job = add_echo(app.db, user_id, TINY_MODEL_ID, steps=4, step_seconds=0.3, message="hi")
    app.dispatcher.submit(ECHO, job)
    assert wait_final(app, job) == "COMPLETE"
    assert calls[0] == "JobProgress"
    events = [r.event for r in app.runner.events.read(job)]
    progress = [e.step for e in events if isinstance(e, JobProgress)]
    assert progress == [2, 3, 4]  # step 1's write failed; the writer went on
    assert events[-1] == JobDone("COMPLETE", None)


def test_a_job_deleted_while_it_runs_leaves_no_event(app: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = slow_writes(app.runner.events, monkeypatch)
    app.start()
    user_id, _ = app.accounts.create_user("u")
    job = add_echo(app.db, user_id, TINY_MODEL_ID, steps=8, step_seconds=0.1, message="hi")
    app.dispatcher.submit(ECHO, job)
    deadline = time.monotonic() + 20
    while not calls:  # step 1's progress is being written
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with app.db.session() as s:  # what a user's deletion does: the row and its events (the write lands after)
        s.execute(delete(EchoJob).where(EchoJob.id == job))
        s.execute(delete(JobEvent).where(JobEvent.job_id == job))
    # it sees its row gone at its next cancel check and stops as if cancelled
    while job in app.runner._running:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert app.files.count() == 0
    with app.db.session() as s:
        left = s.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job))
    assert left == 0
