"""Every kind of job under the same rules (jobs/core/runner.py), on the machine's PostgreSQL (row locks are real
there): the user's concurrency slots and queue cap count generations and variations together, a variation
held by a live worker is not taken by another, and the reaper fails a variation whose model no worker serves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sfumato.jobs.core.runner import JobRunner
from sfumato.jobs.core.status import RunOutcome
from sfumato.jobs.dispatch import JobKind
from sfumato.jobs.reaper import Reaper
from sfumato.services.errors import Busy
from sfumato.services.generations import GenerationParams
from sfumato.services.limits import set_concurrency_slots
from sfumato.store.media import ImageVariation
from sfumato.store.models import Generation
from sfumato.store.workers import WorkerRow
from sfumato.testing.jobs import make_runner
from tests.jobs.support import FlatEngine, Recorder, job_world
from tests.support import TINY_MODEL_ID

pytestmark = pytest.mark.postgres


@pytest.fixture
def world(tmp_path: Path, tiny_catalog: Path) -> Iterator[dict]:
    with job_world(tmp_path, tiny_catalog, lambda db: Recorder()) as w:
        yield w


GEN, VAR = JobKind.GENERATION, JobKind.VARIATION


def worker(w: dict, worker_id: str) -> JobRunner:
    """The runner of one Celery worker: a lease, so slots and holders count."""
    return make_runner(w["db"], w["files"], FlatEngine(), worker_id=worker_id, lease_seconds=30.0)


def generation(w: dict) -> str:
    params = GenerationParams(prompt="x", width=64, height=64, num_images=1)
    return w["generations"].create(w["user"], None, params)


def image_of(w: dict) -> str:
    """A COMPLETE generation's image, the input of variations."""
    gid = generation(w)
    make_runner(w["db"], w["files"], FlatEngine()).run(GEN, gid)
    return w["generations"].get(w["user"], gid).images[0].id


def test_a_running_generation_takes_the_only_slot_from_a_variation(world: dict) -> None:
    image = image_of(world)
    set_concurrency_slots(world["db"], "u", 1)
    a, b = worker(world, "host:1"), worker(world, "host:2")
    gid = generation(world)
    vid = world["variations"].create(world["user"], None, "nobg", image)
    held = a.claim(GEN, gid)
    assert held.claimed and isinstance(held.row, Generation)
    assert b.run(VAR, vid) == RunOutcome.RETRY_LATER  # the user's one slot is the generation's
    with world["db"].session() as s:
        row = s.get(ImageVariation, vid)
        assert row.status == "PENDING" and row.attempts == 0 and row.published_at is not None
    a.fail(GEN, gid, "done with it")
    assert b.run(VAR, vid) == RunOutcome.DONE
    with world["db"].session() as s:
        row = s.get(ImageVariation, vid)
        assert row.status == "COMPLETE" and row.worker == "host:2" and row.attempts == 1


def test_a_running_variation_takes_the_only_slot_from_a_generation(world: dict) -> None:
    image = image_of(world)
    set_concurrency_slots(world["db"], "u", 1)
    a, b = worker(world, "host:1"), worker(world, "host:2")
    vid = world["variations"].create(world["user"], None, "upscale", image)
    gid = generation(world)
    assert isinstance(a.claim(VAR, vid).row, ImageVariation)
    assert b.run(GEN, gid) == RunOutcome.RETRY_LATER


def test_a_variation_held_by_a_live_worker_is_not_claimed_by_another(world: dict) -> None:
    image = image_of(world)
    a, b = worker(world, "host:1"), worker(world, "host:2")
    vid = world["variations"].create(world["user"], None, "nobg", image)
    assert isinstance(a.claim(VAR, vid).row, ImageVariation)
    assert b.claim(VAR, vid).outcome == "retry-later"  # a redelivered copy while host:1 still runs it
    with world["db"].session() as s:  # host:1's lease runs out (its heartbeat stopped)
        s.get(ImageVariation, vid).claimed_at = datetime.now(UTC) - timedelta(seconds=60)
    assert b.run(VAR, vid) == RunOutcome.DONE
    with world["db"].session() as s:
        row = s.get(ImageVariation, vid)
        assert row.status == "COMPLETE" and row.worker == "host:2" and row.attempts == 2


def test_queue_cap_counts_generations_and_variations_together(world: dict) -> None:
    image = image_of(world)
    world["generations"].max_pending = world["variations"].max_pending = 3
    generation(world)
    world["variations"].create(world["user"], None, "nobg", image)
    world["variations"].create(world["user"], None, "upscale", image)
    with pytest.raises(Busy) as refused_gen:
        generation(world)
    with pytest.raises(Busy) as refused_var:
        world["variations"].create(world["user"], None, "unzoom", image)
    for refused in (refused_gen, refused_var):
        assert "you have 3 jobs pending (generations and variations), the most allowed is 3" in str(refused.value)


def test_reaper_fails_a_variation_whose_model_no_worker_serves(world: dict) -> None:
    image = image_of(world)
    vid = world["variations"].create(world["user"], None, "upscale", image)
    reaper = Reaper(world["db"], worker(world, "host:1"), unserved_after=5, interval=1, dead_after=4)
    assert reaper.sweep().failed == []  # too young to judge
    later = datetime.now(UTC) + timedelta(seconds=10)
    with world["db"].session() as s:  # a live worker serving another model changes nothing
        s.add(
            WorkerRow(
                id="host:9",
                hostname="host",
                pid=9,
                models=["some-other-model"],
                device="cpu",
                concurrency=1,
                jobs_done=0,
                started_at=later,
                last_seen=later,
            )
        )
    assert reaper.sweep(later).failed == [vid]
    with world["db"].session() as s:
        row = s.get(ImageVariation, vid)
        assert row.status == "FAILED" and f"no worker serves model {TINY_MODEL_ID}" in row.failure_reason
        assert f"sfumato worker --models {TINY_MODEL_ID}" in row.failure_reason


def test_reaper_leaves_a_variation_whose_model_a_live_worker_serves(world: dict) -> None:
    image = image_of(world)
    vid = world["variations"].create(world["user"], None, "nobg", image)
    runner = worker(world, "host:1")
    later = datetime.now(UTC) + timedelta(seconds=10)
    with world["db"].session() as s:
        s.add(
            WorkerRow(
                id="host:1",
                hostname="host",
                pid=1,
                models=[TINY_MODEL_ID],
                device="cpu",
                concurrency=1,
                jobs_done=0,
                started_at=later,
                last_seen=later,
            )
        )
    assert Reaper(world["db"], runner, unserved_after=5, interval=1, dead_after=4).sweep(later).failed == []
    with world["db"].session() as s:
        assert s.get(ImageVariation, vid).status == "PENDING"
