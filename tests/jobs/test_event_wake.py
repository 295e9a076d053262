"""A reader in the same process (the progress stream) is woken by each committed event of its job, not by
events of other jobs or by a transaction that rolled back; after unsubscribing it hears nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.jobs.core.events import JobDone, JobEvents, JobLog, JobProgress
from sfumato.services.accounts import Accounts
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore


@pytest.fixture
def world(tmp_path: Path) -> tuple[JobEvents, str]:
    """The events on a fresh database, and a user for them to name (a foreign key)."""
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    user_id, _ = Accounts(db, LocalFileStore(tmp_path / "files")).create_user("u")
    return JobEvents(db), user_id


def test_a_committed_event_wakes_its_jobs_readers_only(world: tuple[JobEvents, str]) -> None:
    events, user = world
    woken: list[str] = []
    unsubscribe = events.subscribe("job-a", lambda: woken.append("a"))
    events.subscribe("job-b", lambda: woken.append("b"))
    events.publish("generation", "job-a", user, JobProgress(1, 4))
    assert woken == ["a"]
    # An event written inside a caller's transaction wakes the reader once that transaction commits.
    with events._db.session() as s:
        events.add(s, "generation", "job-a", user, JobDone("COMPLETE"))
        assert woken == ["a"], "woken before the commit: the reader would find nothing new"
    assert woken == ["a", "a"]
    assert [r.event for r in events.read("job-a")][-1] == JobDone("COMPLETE")
    unsubscribe()
    events.publish("generation", "job-a", user, JobLog("after"))
    assert woken == ["a", "a"]


def test_a_rolled_back_event_wakes_nobody(world: tuple[JobEvents, str]) -> None:
    events, user = world
    woken: list[int] = []
    events.subscribe("job", lambda: woken.append(1))
    with pytest.raises(RuntimeError), events._db.session() as s:
        events.add(s, "generation", "job", user, JobLog("never kept"))
        raise RuntimeError("the transition failed")
    assert woken == [] and events.read("job") == []
