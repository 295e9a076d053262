"""Cross-request batching in the runner: compatible waiting generations run as one engine call, each with its own
prompt and seed and the pictures it gets alone; incompatible ones wait for their own turn; users take turns."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select, update

from sfumato.engine.engine import Engine
from sfumato.engine.types import GenerateRequest, GenerateResult, ProgressCallback
from sfumato.jobs.core.batching import batch_candidates
from sfumato.jobs.core.context import JobCancelled
from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import JobKind
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.generations import GenerationParams, Generations
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import GeneratedImage, Generation, User
from sfumato.testing.jobs import FlatEngine, NullDispatcher, make_runner
from tests.support import TINY_MODEL_ID

GEN = JobKind.GENERATION


@pytest.fixture
def world(tmp_path: Path, tiny_catalog: Path) -> dict:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    files = LocalFileStore(tmp_path / "files")
    accounts = Accounts(db, files)
    alice, _ = accounts.create_user("alice")
    bob, _ = accounts.create_user("bob")
    generations = Generations(db, files, Catalog(db, TINY_MODEL_ID, tiny_catalog), NullDispatcher())
    return {"db": db, "files": files, "alice": alice, "bob": bob, "generations": generations}


def _create(world: dict, user: str = "alice", **kw: object) -> str:
    base: dict[str, object] = {"prompt": "a red cat", "width": 64, "height": 64, "num_images": 1}
    base["num_inference_steps"] = 10
    params = GenerationParams(**{**base, **kw})  # type: ignore[arg-type]
    return world["generations"].create(world[user], None, params)


def _row(world: dict, job_id: str) -> Generation:
    with world["db"].session() as s:
        return s.get(Generation, job_id)


def _pictures(world: dict, job_id: str) -> list[np.ndarray]:
    with world["db"].session() as s:
        keys = s.scalars(
            select(GeneratedImage.file_key).where(GeneratedImage.generation_id == job_id).order_by(GeneratedImage.index)
        ).all()
    return [np.asarray(Image.open(io.BytesIO(world["files"].get(k))).convert("RGB")).astype(np.int16) for k in keys]


def _notes(runner: object, job_id: str) -> list[str]:
    return [str(getattr(r.event, "message", "")) for r in runner.events.read(job_id, 0)]  # type: ignore[attr-defined]


def test_waiting_generations_run_as_one_batch_with_the_pictures_they_get_alone(world: dict) -> None:
    engine = Engine(memory_budget_bytes=1 << 30, num_threads=1)
    jobs = [
        _create(world, prompt="a red cat", seed=11),
        _create(world, user="bob", prompt="a blue house", seed=12, num_images=2),
        _create(world, prompt="green hills", seed=11),
    ]
    other_steps = _create(world, seed=11, num_inference_steps=12)  # cannot share the call
    batched = make_runner(world["db"], world["files"], engine, batch_limit=8)
    batched.run(GEN, jobs[0])
    for job in jobs:
        assert _row(world, job).status == JobStatus.COMPLETE
        assert "runs in a batch of 3 jobs" in _notes(batched, job)
    assert _row(world, other_steps).status == JobStatus.PENDING
    assert [len(_pictures(world, j)) for j in jobs] == [1, 2, 1]

    # The same requests, each alone: the same pictures within a level or two of rounding.
    alone = make_runner(world["db"], world["files"], engine, batch_limit=1)
    again = [
        _create(world, prompt="a red cat", seed=11),
        _create(world, user="bob", prompt="a blue house", seed=12, num_images=2),
        _create(world, prompt="green hills", seed=11),
    ]
    for job in again:
        alone.run(GEN, job)
        assert not any("batch" in n for n in _notes(alone, job))
    for batched_job, single_job in zip(jobs, again, strict=True):
        for mine, theirs in zip(_pictures(world, batched_job), _pictures(world, single_job), strict=True):
            assert np.abs(mine - theirs).max() <= 2
    first, third = _pictures(world, jobs[0])[0], _pictures(world, jobs[2])[0]
    assert np.abs(first - third).mean() > 3  # one seed, two prompts: each kept its own prompt


def test_a_job_with_an_image_input_its_own_element_or_other_settings_never_joins(world: dict) -> None:
    first = _create(world, seed=1)
    compatible = _create(world, seed=2)
    for other in ({"num_inference_steps": 11}, {"width": 48}, {"negative_prompt": "dark"}, {"guidance_scale": 3}):
        _create(world, **other)
    with_init = _create(world)
    with world["db"].session() as s:  # as if made with an init image (the service stored its file key)
        s.execute(update(Generation).where(Generation.id == with_init).values(init_file_key="some/key.png"))
    with_element = _create(world)  # its own LoRA: never in a batch without that LoRA at that weight
    element = [{"source": "element", "ref": 7, "name": "ink", "key": "users/x/loras/7.safetensors", "weight": 0.8}]
    with world["db"].session() as s:
        s.execute(update(Generation).where(Generation.id == with_element).values(adapters=element))
    cancelling = _create(world)
    with world["db"].session() as s:
        s.execute(update(Generation).where(Generation.id == cancelling).values(cancel_requested_at=datetime.now(UTC)))
    spec = make_runner(world["db"], world["files"], FlatEngine()).kinds.get(GEN)
    assert batch_candidates(world["db"], spec, _row(world, first), 8, None) == [compatible]
    assert batch_candidates(world["db"], spec, _row(world, with_init), 8, None) == []  # never leads one either
    assert batch_candidates(world["db"], spec, _row(world, with_element), 8, None) == []
    same_element = _create(world)
    with world["db"].session() as s:  # the same LoRA at the same weight: one call serves both
        s.execute(update(Generation).where(Generation.id == same_element).values(adapters=element))
    assert batch_candidates(world["db"], spec, _row(world, with_element), 8, None) == [same_element]
    assert batch_candidates(world["db"], spec, _row(world, first), 1, None) == []  # batching off


def test_users_take_turns_and_keep_to_their_slots(world: dict) -> None:
    first = _create(world, seed=0)
    alice_jobs = [_create(world, seed=i) for i in range(1, 6)]
    bob_job = _create(world, user="bob")  # the newest, yet in the batch: users take turns
    spec = make_runner(world["db"], world["files"], FlatEngine()).kinds.get(GEN)
    chosen = batch_candidates(world["db"], spec, _row(world, first), 4, None)
    assert chosen == [bob_job, alice_jobs[0], alice_jobs[1]]
    with world["db"].session() as s:  # alice may run 2 jobs at once: the one claimed and one more
        s.execute(update(User).where(User.id == world["alice"]).values(api_concurrency_slots=2))
    assert batch_candidates(world["db"], spec, _row(world, first), 4, None) == [bob_job, alice_jobs[0]]
    # A job bigger than the room left waits for its own turn.
    big = _create(world, user="bob", num_images=4)
    assert big not in batch_candidates(world["db"], spec, _row(world, first), 4, None)


class BatchEngine(FlatEngine):
    """Plain images; the request whose prompt is "cancel me" is cancelled mid-batch (its progress raised),
    "break me" fails."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def generate_batch(
        self, requests: Sequence[GenerateRequest], progress: Sequence[ProgressCallback]
    ) -> list[GenerateResult | Exception]:
        self.batches.append(len(requests))
        out: list[GenerateResult | Exception] = []
        for request in requests:
            if request.prompt == "cancel me":
                out.append(JobCancelled())
            elif request.prompt == "break me":
                out.append(RuntimeError("out of memory (simulated)"))
            else:
                out.append(self.generate(request))
        return out


def test_each_job_of_a_batch_ends_on_its_own(world: dict) -> None:
    engine = BatchEngine()
    ok = _create(world)
    cancelled = _create(world, prompt="cancel me")
    broken = _create(world, prompt="break me")
    ok_too = _create(world, user="bob")
    runner = make_runner(world["db"], world["files"], engine, batch_limit=4)
    runner.run(GEN, ok)
    assert engine.batches == [4]
    assert _row(world, ok).status == _row(world, ok_too).status == JobStatus.COMPLETE
    assert _row(world, broken).status == JobStatus.FAILED
    assert "out of memory" in (_row(world, broken).failure_reason or "")
    assert _row(world, cancelled).status == JobStatus.CANCELLED
    assert _pictures(world, broken) == [] and _pictures(world, cancelled) == []
    # Their own deliveries come later and change nothing.
    for job in (cancelled, broken, ok_too):
        runner.run(GEN, job)
    assert engine.batches == [4]
    assert _row(world, broken).attempts == 1
