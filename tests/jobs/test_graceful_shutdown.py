"""Graceful shutdown: running jobs get the grace period to finish; after it they stop at their next step and
are handed back (PENDING, unclaimed, the attempt not counted), and run again when a server starts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sfumato.bootstrap import Container, build
from sfumato.jobs.core.events import JobLog, JobProgress
from sfumato.jobs.core.runner import HANDED_BACK_NOTE
from sfumato.jobs.core.status import RunOutcome
from sfumato.settings import Settings
from sfumato.testing.echo_kind import ECHO, ECHO_LONG, EchoJob, LongEchoJob, add_echo
from sfumato.testing.jobs import FlatEngine
from sfumato.testing.live_server import TINY_MODEL_ID

PLUGIN = "sfumato.testing.echo_kind:register"


def container(tmp_path: Path, catalog: Path, grace: float) -> Container:
    settings = Settings(
        data_dir=tmp_path / "data",
        catalog_dir=catalog,
        default_model_id=TINY_MODEL_ID,
        job_kind_plugins=PLUGIN,
        log_level="WARNING",
        shutdown_grace_seconds=grace,
    )
    return build(settings, engine=FlatEngine())  # type: ignore[arg-type]


@pytest.fixture
def parts(tmp_path: Path, tiny_catalog: Path) -> Iterator[tuple[Path, Path]]:
    yield tmp_path, tiny_catalog


def row(c: Container, table: type, job_id: str) -> EchoJob:
    with c.db.session() as s:
        found = s.scalar(select(table).where(table.id == job_id))
        s.expunge(found)
        return found


def wait_for_steps(c: Container, job_id: str, n: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sum(isinstance(r.event, JobProgress) for r in c.runner.events.read(job_id)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{job_id} made fewer than {n} steps")


def test_a_job_longer_than_the_grace_is_handed_back_and_runs_again_after_a_restart(parts: tuple[Path, Path]) -> None:
    first = container(*parts, grace=0.3)
    first.start()
    user_id, _ = first.accounts.create_user("u")
    job = add_echo(first.db, user_id, TINY_MODEL_ID, long=True, steps=300, step_seconds=0.05, message="again")
    queued = add_echo(first.db, user_id, TINY_MODEL_ID, steps=1)  # never submitted: the sweep finds it later
    first.dispatcher.submit(ECHO_LONG, job)
    wait_for_steps(first, job, 2)
    asked = time.monotonic()
    first.stop()
    assert time.monotonic() - asked < 5  # the grace, then one 0.05 s step and a cancel check (0.25 s)
    held = row(first, LongEchoJob, job)
    assert (held.status, held.attempts, held.worker, held.claimed_at) == ("PENDING", 0, None, None)
    assert JobLog(HANDED_BACK_NOTE) in [r.event for r in first.runner.events.read(job)]
    assert first.files.count() == 0  # it wrote nothing it would leave behind

    second = container(*parts, grace=5)
    second.start()  # the start-up sweep hands it (and the never-submitted one) to the workers
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and row(second, LongEchoJob, job).status == "PENDING":
            time.sleep(0.1)
        done = row(second, LongEchoJob, job)
        assert (done.status, done.attempts) == ("COMPLETE", 1)  # the handed-back attempt was not counted
        assert second.files.get(done.output_key) == b"again"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and row(second, EchoJob, queued).status == "PENDING":
            time.sleep(0.05)
        assert row(second, EchoJob, queued).status == "COMPLETE"
    finally:
        second.stop()


def test_a_job_that_ends_within_the_grace_completes_before_the_server_stops(parts: tuple[Path, Path]) -> None:
    c = container(*parts, grace=20)
    c.start()
    user_id, _ = c.accounts.create_user("u")
    job = add_echo(c.db, user_id, TINY_MODEL_ID, steps=8, step_seconds=0.1)
    c.dispatcher.submit(ECHO, job)
    wait_for_steps(c, job, 1)
    c.stop()
    done = row(c, EchoJob, job)
    assert (done.status, done.attempts) == ("COMPLETE", 1)


def test_a_cancel_asked_for_during_the_hand_back_still_cancels(parts: tuple[Path, Path]) -> None:
    c = container(*parts, grace=0.2)
    c.start()
    user_id, _ = c.accounts.create_user("u")
    job = add_echo(c.db, user_id, TINY_MODEL_ID, long=True, steps=300, step_seconds=0.05)
    c.dispatcher.submit(ECHO_LONG, job)
    wait_for_steps(c, job, 2)
    c.jobs.cancel(job)  # the user's cancel wins over the hand-back: the job does not come back after a restart
    c.stop()
    assert row(c, LongEchoJob, job).status == "CANCELLED"


def test_a_runner_handing_back_claims_nothing_new(parts: tuple[Path, Path]) -> None:
    c = container(*parts, grace=1)
    try:
        user_id, _ = c.accounts.create_user("u")
        job = add_echo(c.db, user_id, TINY_MODEL_ID, steps=1)
        c.runner.hand_back_running()
        assert c.runner.run(ECHO, job) == RunOutcome.RETRY_LATER
        fresh = row(c, EchoJob, job)
        assert (fresh.status, fresh.attempts, fresh.worker) == ("PENDING", 0, None)
    finally:
        c.stop()
