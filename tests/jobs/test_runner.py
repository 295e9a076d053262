"""The job runner's failure paths: a failed job is FAILED with a reason and leaves no file behind."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from sfumato.engine.types import GenerateRequest, GenerateResult
from sfumato.jobs.dispatch import InProcessDispatcher, JobKind
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.generations import GenerationParams, Generations
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import Generation
from sfumato.testing.jobs import NullDispatcher, make_runner
from tests.support import TINY_MODEL_ID


class ExplodingEngine:
    """An engine whose pipeline breaks half way: what a user sees when a model is broken."""

    def __init__(self) -> None:
        self.calls = 0

    def generate(self, request: GenerateRequest, progress=None) -> GenerateResult:  # type: ignore[no-untyped-def]
        self.calls += 1
        raise RuntimeError("CUDA out of memory (simulated)")


class SlowEngine:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def generate(self, request: GenerateRequest, progress=None) -> GenerateResult:  # type: ignore[no-untyped-def]
        self.started.set()
        self.release.wait(10)
        return GenerateResult([Image.new("RGB", (request.width, request.height))] * request.num_images)


GEN = JobKind.GENERATION


@pytest.fixture
def parts(tmp_path: Path, tiny_catalog: Path) -> dict:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    files = LocalFileStore(tmp_path / "files")
    accounts = Accounts(db, files)
    user_id, _ = accounts.create_user("u")
    generations = Generations(db, files, Catalog(db, TINY_MODEL_ID, tiny_catalog), NullDispatcher())
    return {"db": db, "files": files, "user_id": user_id, "generations": generations, "catalog_dir": tiny_catalog}


def status(db: Database, generation_id: str) -> Generation:
    with db.session() as s:
        return s.get(Generation, generation_id)


def new_generation(parts: dict, **kw: object) -> str:
    params = GenerationParams(prompt="x", width=64, height=64, num_images=2, **kw)  # type: ignore[arg-type]
    return parts["generations"].create(parts["user_id"], None, params)


def test_engine_error_marks_failed_with_reason(parts: dict) -> None:
    gid = new_generation(parts)
    make_runner(parts["db"], parts["files"], ExplodingEngine()).run(GEN, gid)
    row = status(parts["db"], gid)
    assert row.status == "FAILED" and "out of memory" in row.failure_reason
    assert parts["files"].count() == 0
    assert parts["generations"].get(parts["user_id"], gid).images == ()


def test_missing_model_folder_fails_with_a_clear_message(parts: dict, tmp_path: Path) -> None:
    from sfumato.engine.engine import Engine

    gone = tmp_path / "gone-model"
    (parts["catalog_dir"] / "zz-gone.json").write_text(
        json.dumps({"id": "0a1b2c3d-0000-4000-8000-00000000dead", "name": "Gone", "description": "", "path": str(gone)})
    )
    try:
        gid = new_generation(parts, model_id="0a1b2c3d-0000-4000-8000-00000000dead")
        make_runner(parts["db"], parts["files"], Engine(1 << 28)).run(GEN, gid)
    finally:
        (parts["catalog_dir"] / "zz-gone.json").unlink()
    row = status(parts["db"], gid)
    assert row.status == "FAILED" and str(gone) in row.failure_reason


def test_job_that_keeps_killing_the_worker_ends_failed(parts: dict) -> None:
    gid = new_generation(parts)
    with parts["db"].session() as s:
        s.get(Generation, gid).attempts = 3  # three earlier attempts died with their process
    engine = ExplodingEngine()
    make_runner(parts["db"], parts["files"], engine, max_attempts=3).run(GEN, gid)
    row = status(parts["db"], gid)
    assert row.status == "FAILED" and "3 times" in row.failure_reason and engine.calls == 0


def test_finished_job_is_not_run_twice(parts: dict) -> None:
    gid = new_generation(parts)
    engine = SlowEngine()
    engine.release.set()
    runner = make_runner(parts["db"], parts["files"], engine)
    runner.run(GEN, gid)
    runner.run(GEN, gid)
    assert parts["files"].count() == 2 and status(parts["db"], gid).attempts == 1


def test_generation_deleted_while_running_leaves_nothing(parts: dict) -> None:
    gid = new_generation(parts)
    engine = SlowEngine()
    runner = make_runner(parts["db"], parts["files"], engine)
    worker = threading.Thread(target=runner.run, args=(GEN, gid))
    worker.start()
    assert engine.started.wait(10)
    parts["generations"].delete(parts["user_id"], gid)
    engine.release.set()
    worker.join(10)
    assert status(parts["db"], gid) is None and parts["files"].count() == 0


def test_finish_hooks_run_in_the_finishing_transaction(parts: dict) -> None:
    seen: list[tuple[str, str]] = []
    engine = SlowEngine()
    engine.release.set()
    hooks = (lambda s, row: seen.append((row.id, row.status)),)
    runner = make_runner(parts["db"], parts["files"], engine, finish_hooks=hooks)
    ok, bad = new_generation(parts), new_generation(parts)
    runner.run(GEN, ok)
    make_runner(parts["db"], parts["files"], ExplodingEngine(), finish_hooks=hooks).run(GEN, bad)
    assert seen == [(ok, "COMPLETE"), (bad, "FAILED")]


def test_in_process_dispatcher_recovers_pending_jobs_on_start(parts: dict) -> None:
    ids = [new_generation(parts) for _ in range(3)]
    engine = SlowEngine()
    engine.release.set()
    runner = make_runner(parts["db"], parts["files"], engine)
    dispatcher = InProcessDispatcher(runner.run, runner.pending_jobs, runner.kinds.lane_of, sweep_seconds=0.2)
    dispatcher.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(status(parts["db"], i).status == "PENDING" for i in ids):
            time.sleep(0.05)
        assert all(status(parts["db"], i).status == "COMPLETE" for i in ids)
        # The periodic sweep picks up a job whose submit never reached the queue.
        late = new_generation(parts)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and status(parts["db"], late).status == "PENDING":
            time.sleep(0.05)
        assert status(parts["db"], late).status == "COMPLETE"
    finally:
        dispatcher.stop()
