"""Accounts, keys, generations and deletion through the real services, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from sfumato.engine.engine import Engine
from sfumato.jobs.dispatch import JobKind
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.errors import InvalidRequest, LimitExceeded, NotFound, Unauthorized
from sfumato.services.generations import GenerationParams, Generations
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import ApiKey, GeneratedImage, Generation, JobEvent, User
from sfumato.testing.jobs import make_runner
from tests.support import TINY_MODEL_ID


class RecordingDispatcher:
    """Stands in for the worker thread so the test decides when a job runs."""

    def __init__(self) -> None:
        self.submitted: list[tuple[JobKind, str]] = []

    def submit(self, kind: JobKind, job_id: str) -> None:
        self.submitted.append((kind, job_id))

    def start(self) -> None: ...
    def stop(self) -> None: ...


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(memory_budget_bytes=1 << 30)


@pytest.fixture
def world(db: Database, tmp_path: Path, tiny_catalog: Path, engine: Engine) -> dict:
    files = LocalFileStore(tmp_path / "files")
    catalog = Catalog(db, TINY_MODEL_ID, tiny_catalog)
    dispatcher = RecordingDispatcher()
    return {
        "db": db,
        "files": files,
        "accounts": Accounts(db, files, max_keys_per_user=10),
        "generations": Generations(db, files, catalog, dispatcher),
        "runner": make_runner(db, files, engine),
        "dispatcher": dispatcher,
    }


def test_schema_is_created_by_migrations(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "api_keys", "generations", "generated_images", "alembic_version"} <= tables
    db.upgrade()  # idempotent


def test_keys_are_hashed_limited_to_ten_and_revocable(world: dict) -> None:
    accounts: Accounts = world["accounts"]
    user_id, first = accounts.create_user("alice")
    assert accounts.authenticate(first.secret).user_id == user_id
    with world["db"].session() as s:
        stored = s.scalars(select(ApiKey.key_hash)).all()
    assert first.secret not in stored and len(stored[0]) == 64
    for _ in range(9):
        accounts.create_key("alice")
    with pytest.raises(LimitExceeded, match="revoke one"):
        accounts.create_key("alice")
    accounts.revoke_key(first.info.id)
    with pytest.raises(Unauthorized):
        accounts.authenticate(first.secret)
    accounts.create_key("alice")  # a slot is free again
    assert len(accounts.list_keys("alice")) == 10
    with pytest.raises(InvalidRequest, match="already exists"):
        accounts.create_user("alice")
    with pytest.raises(NotFound):
        accounts.revoke_key("nope")


def test_generation_runs_lists_newest_first_and_deletes_files(world: dict) -> None:
    accounts, generations, runner = world["accounts"], world["generations"], world["runner"]
    user_id, key = accounts.create_user("bob")
    ids = []
    for n in range(3):
        params = GenerationParams(prompt=f"p{n}", width=64, height=64, num_images=2, seed=n)
        ids.append(generations.create(user_id, key.info.id, params))
    assert world["dispatcher"].submitted == [(JobKind.GENERATION, i) for i in ids]
    assert runner.pending_jobs() == [(JobKind.GENERATION, i) for i in ids]
    for generation_id in ids:
        runner.run(JobKind.GENERATION, generation_id)
    view = generations.get(user_id, ids[0])
    assert view.status == "COMPLETE" and len(view.images) == 2
    assert world["files"].count() == 6
    assert [v.id for v in generations.list_for_user(user_id, offset=0, limit=2)] == [ids[2], ids[1]]
    assert [v.id for v in generations.list_for_user(user_id, offset=2, limit=2)] == [ids[0]]
    generations.delete(user_id, ids[0])
    assert world["files"].count() == 4
    with pytest.raises(NotFound):
        generations.get(user_id, ids[0])


def test_users_never_see_each_others_generations(world: dict) -> None:
    accounts, generations = world["accounts"], world["generations"]
    owner, _ = accounts.create_user("owner")
    other, _ = accounts.create_user("other")
    gid = generations.create(owner, None, GenerationParams(prompt="mine", width=64, height=64, num_images=1))
    for call in (lambda: generations.get(other, gid), lambda: generations.delete(other, gid)):
        with pytest.raises(NotFound):
            call()
    assert generations.list_for_user(other) == []


def test_deleting_a_user_removes_every_row_and_file(world: dict) -> None:
    accounts, generations, runner, db = world["accounts"], world["generations"], world["runner"], world["db"]
    user_id, _ = accounts.create_user("carol")
    keeper_id, _ = accounts.create_user("keeper")
    for owner in (user_id, keeper_id):
        gid = generations.create(owner, None, GenerationParams(prompt="x", width=64, height=64, num_images=2))
        runner.run(JobKind.GENERATION, gid)
    assert world["files"].count(f"users/{user_id}") == 2
    accounts.delete_user("carol")
    with db.session() as s:
        for table, column in (
            (User, User.id),
            (ApiKey, ApiKey.user_id),
            (Generation, Generation.user_id),
            (GeneratedImage, GeneratedImage.user_id),
            (JobEvent, JobEvent.user_id),
        ):
            assert s.scalar(select(func.count()).select_from(table).where(column == user_id)) == 0
    assert world["files"].count(f"users/{user_id}") == 0
    assert world["files"].count(f"users/{keeper_id}") == 2
    with pytest.raises(NotFound):
        accounts.delete_user("carol")


def test_large_seeds_fit(world: dict) -> None:
    user_id, _ = world["accounts"].create_user("dan")
    gid = world["generations"].create(
        user_id, None, GenerationParams(prompt="x", width=64, height=64, num_images=1, seed=9_999_999_998)
    )
    assert world["generations"].get(user_id, gid).seed == 9_999_999_998
