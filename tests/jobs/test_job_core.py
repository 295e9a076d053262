"""The job core (jobs/core/): final states stay final, kinds are refused without their parts, a kind added
as a plugin runs end to end with progress events and stops on cancel, and a long-lane job never holds up
an interactive generation by more than one of its steps. In-process, on SQLite, through the composition root."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sfumato.bootstrap import Container, build
from sfumato.jobs.core.context import JobContext
from sfumato.jobs.core.events import JobDone, JobLog, JobProgress, JobStarted
from sfumato.jobs.core.kinds import InvalidJobKind, JobKinds, JobKindSpec, ModelOf
from sfumato.jobs.core.lanes import EngineGate, Lane
from sfumato.jobs.core.runner import JobSuperseded
from sfumato.jobs.core.status import JobStatus, wire_status
from sfumato.jobs.dispatch import JobKind
from sfumato.services.generations import GenerationParams
from sfumato.settings import Settings
from sfumato.store.models import Generation, JobEvent, WebhookDelivery
from sfumato.testing.echo_kind import ECHO, ECHO_LONG, EchoHandler, EchoJob, LongEchoJob, add_echo
from sfumato.testing.jobs import FlatEngine
from sfumato.testing.live_server import TINY_MODEL_ID

PLUGIN = "sfumato.testing.echo_kind:register"


def settings(tmp_path: Path, catalog: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        catalog_dir=catalog,
        default_model_id=TINY_MODEL_ID,
        job_kind_plugins=PLUGIN,
        log_level="WARNING",
    )


@pytest.fixture
def app(tmp_path: Path, tiny_catalog: Path) -> Iterator[Container]:
    """The composition root with a flat engine and the echo kinds; the dispatcher is not started."""
    c = build(settings(tmp_path, tiny_catalog), engine=FlatEngine())  # type: ignore[arg-type]
    try:
        yield c
    finally:
        c.stop()


def user(c: Container, name: str = "u") -> str:
    user_id, _ = c.accounts.create_user(name)
    return user_id


def wait_status(c: Container, table: type, job_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with c.db.session() as s:
            status = s.scalar(select(table.status).where(table.id == job_id))
        if status != "PENDING":
            return str(status)
        time.sleep(0.02)
    raise AssertionError(f"{job_id} still PENDING after {timeout}s")


def progress_steps(c: Container, job_id: str) -> list[int]:
    return [r.event.step for r in c.runner.events.read(job_id) if isinstance(r.event, JobProgress)]


# --- final states are final -------------------------------------------------------------------------------


def test_a_late_complete_after_fail_changes_nothing_and_queues_no_second_webhook(app: Container) -> None:
    user_id = user(app)
    key = app.accounts.create_key("u", "hooked", webhook_url="https://example.com/hook")
    gid = app.generations.create(user_id, key.info.id, GenerationParams(prompt="x", width=64, height=64))
    assert app.runner.claim(JobKind.GENERATION, gid).claimed
    assert app.runner.fail(JobKind.GENERATION, gid, "reaped")
    with pytest.raises(JobSuperseded):
        app.runner.complete(JobKind.GENERATION, gid, lambda s, row: setattr(row, "prompt", "changed"))
    assert not app.runner.fail(JobKind.GENERATION, gid, "again")  # a second fail changes nothing either
    with app.db.session() as s:
        row = s.get(Generation, gid)
        assert (row.status, row.failure_reason, row.prompt) == ("FAILED", "reaped", "x")
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        assert s.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.type == "done")) == 1


def test_a_late_fail_after_complete_changes_nothing_and_queues_no_second_webhook(app: Container) -> None:
    user_id = user(app)
    key = app.accounts.create_key("u", "hooked", webhook_url="https://example.com/hook")
    gid = app.generations.create(user_id, key.info.id, GenerationParams(prompt="x", width=64, height=64))
    app.runner.run(JobKind.GENERATION, gid)
    assert not app.runner.fail(JobKind.GENERATION, gid, "too late")
    assert not app.runner.fail_unclaimed(JobKind.GENERATION, gid, "too late", stale_before=app.started_at)
    with app.db.session() as s:
        row = s.get(Generation, gid)
        assert (row.status, row.failure_reason) == ("COMPLETE", None)
        deliveries = s.scalars(select(WebhookDelivery.event_type)).all()
        assert deliveries == ["image_generation.complete"]


def test_cancelled_reads_failed_on_the_wire() -> None:
    assert wire_status("CANCELLED") == "FAILED"
    assert [wire_status(s) for s in ("PENDING", "COMPLETE", "FAILED")] == ["PENDING", "COMPLETE", "FAILED"]
    assert all(s.terminal for s in JobStatus if s is not JobStatus.PENDING) and not JobStatus.PENDING.terminal


# --- the registry -----------------------------------------------------------------------------------------


class NoDiscard:
    def execute(self, ctx: JobContext, row: object) -> None: ...
    def failure_reason(self, exc: Exception) -> None: ...


def test_a_kind_registered_without_its_handler_parts_is_refused(tmp_path: Path) -> None:
    from sfumato.store.files import LocalFileStore

    kinds = JobKinds()
    with pytest.raises(InvalidJobKind, match=r"handler NoDiscard has no discard\(\)"):
        kinds.register(JobKindSpec("broken", EchoJob, NoDiscard(), ModelOf(EchoJob.model_id)))  # type: ignore[arg-type]
    handler = EchoHandler(LocalFileStore(tmp_path))
    with pytest.raises(InvalidJobKind, match="table must be a mapped table class with the JobColumns"):
        kinds.register(JobKindSpec("no-table", JobEvent, handler, ModelOf(EchoJob.model_id)))  # type: ignore[arg-type]
    with pytest.raises(InvalidJobKind, match="model_of must be a ModelOf"):
        kinds.register(JobKindSpec("no-model", EchoJob, handler, None))  # type: ignore[arg-type]
    with pytest.raises(InvalidJobKind, match="lane must be one of interactive, long"):
        kinds.register(JobKindSpec("no-lane", EchoJob, handler, ModelOf(EchoJob.model_id), "slow"))  # type: ignore[arg-type]
    assert kinds.names() == []  # nothing half-registered
    kinds.register(JobKindSpec("echo", EchoJob, handler, ModelOf(EchoJob.model_id)))
    with pytest.raises(InvalidJobKind, match="registered already"):
        kinds.register(JobKindSpec("echo", LongEchoJob, handler, ModelOf(LongEchoJob.model_id)))
    with pytest.raises(
        InvalidJobKind, match="belongs to kind .echo.; kinds that share a table both need a discriminator"
    ):
        kinds.register(JobKindSpec("echo-2", EchoJob, handler, ModelOf(EchoJob.model_id)))


def test_the_composition_root_registers_the_builtin_kinds_and_plugins(app: Container) -> None:
    builtin = ["generation", "variation", "motion", "video-upscale", "texture", "training"]
    assert app.runner.kinds.names() == [*builtin, ECHO, ECHO_LONG]
    lanes = [app.runner.kinds.lane_of(k) for k in app.runner.kinds.names()]
    assert lanes == ["interactive", "interactive", "long", "long", "long", "long", "interactive", "long"]


# --- a kind from a plugin, end to end -----------------------------------------------------------------------


def test_a_plugin_kind_runs_end_to_end_with_progress_events(app: Container) -> None:
    app.start()
    job = add_echo(app.db, user(app), TINY_MODEL_ID, steps=4, step_seconds=0.3, message="hi there")
    app.dispatcher.submit(ECHO, job)
    assert wait_status(app, EchoJob, job) == "COMPLETE"
    events = [r.event for r in app.runner.events.read(job)]
    assert isinstance(events[0], JobStarted) and events[0].attempt == 1
    assert progress_steps(app, job) == [1, 2, 3, 4]  # steps slower than the throttle: each one written
    assert JobLog("echoing 8 characters") in events
    assert events[-1] == JobDone("COMPLETE", None)
    with app.db.session() as s:
        assert app.files.get(s.get(EchoJob, job).output_key) == b"hi there"
    text = [e.text() for e in app.jobs.events(job)]
    assert text[0].split()[2] == "started" and "status=COMPLETE" in text[-1]


def test_cancel_stops_a_running_job_at_its_next_step(app: Container) -> None:
    app.start()
    job = add_echo(app.db, user(app), TINY_MODEL_ID, long=True, steps=400, step_seconds=0.05)
    app.dispatcher.submit(ECHO_LONG, job)
    deadline = time.monotonic() + 20
    while len(progress_steps(app, job)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    view = app.jobs.cancel(job)
    assert view.status == "PENDING" and view.running_on == app.runner.worker_id and "next step" in view.message
    asked = time.monotonic()
    assert wait_status(app, LongEchoJob, job) == "CANCELLED"
    assert time.monotonic() - asked < 2.0  # a 0.05 s step, a cancel check every 0.25 s
    steps = progress_steps(app, job)
    assert steps == sorted(steps) and max(steps) < 100
    assert len(steps) < max(steps)  # 0.05 s steps: progress rows are throttled (one per 0.25 s)
    done = app.runner.events.read(job)[-1].event
    assert isinstance(done, JobDone) and done.status == "CANCELLED" and "cancelled" in (done.reason or "")
    assert app.files.count() == 0  # it never wrote its output
    assert app.jobs.cancel(job).message.endswith("is CANCELLED already; nothing to cancel")


def test_cancel_of_a_waiting_job_is_final_at_once_and_a_later_delivery_skips_it(app: Container) -> None:
    user_id = user(app)
    key = app.accounts.create_key("u", "hooked", webhook_url="https://example.com/hook")
    gid = app.generations.create(user_id, key.info.id, GenerationParams(prompt="x", width=64, height=64))
    view = app.jobs.cancel(gid)
    assert (view.kind, view.status, view.running_on) == ("generation", "CANCELLED", None)
    assert app.runner.run(JobKind.GENERATION, gid) == "done"
    got = app.generations.get(user_id, gid)
    assert got.status == "CANCELLED" and got.images == ()
    with app.db.session() as s:
        assert s.get(Generation, gid).attempts == 0  # never started
    with app.db.session() as s:  # the client learns of it: the failed webhook, with Leonardo's FAILED
        [delivery] = s.scalars(select(WebhookDelivery)).all()
        assert delivery.event_type == "image_generation.failed" and '"status":"FAILED"' in delivery.payload


def test_cancel_of_an_unknown_id_says_what_to_pass(app: Container) -> None:
    from sfumato.services.errors import NotFound

    with pytest.raises(NotFound, match="pass the id of a generation, variation or other job"):
        app.jobs.cancel("00000000-0000-4000-8000-000000000000")


# --- lanes ----------------------------------------------------------------------------------------------


def test_the_gate_lets_an_interactive_job_in_at_the_long_jobs_next_step() -> None:
    gate, order = EngineGate(), []
    step_seconds = 0.2
    long_started, stop = threading.Event(), threading.Event()

    def long_job() -> None:
        with gate.turn(Lane.LONG):
            long_started.set()
            while not stop.is_set():
                time.sleep(step_seconds)  # one step, holding the engine
                order.append("long-step")
                gate.yield_to_interactive()

    thread = threading.Thread(target=long_job)
    thread.start()
    assert long_started.wait(5)
    asked = time.monotonic()
    with gate.turn(Lane.INTERACTIVE):
        waited = time.monotonic() - asked
        steps_before = len(order)
        time.sleep(0.3)  # the long job must not step while an interactive job holds the engine
        assert len(order) == steps_before
    stop.set()
    thread.join(5)
    assert waited < step_seconds + 0.15


def test_a_long_lane_job_does_not_delay_an_interactive_generation(tmp_path: Path, tiny_catalog: Path) -> None:
    """The issue's 2-minute long job (120 steps of 1 s): a generation submitted while it runs takes about its
    own time, not the long job's. The long job is cancelled once that is shown, so the test takes seconds."""
    c = build(settings(tmp_path, tiny_catalog))  # the real engine, on the tiny model
    c.start()
    try:
        user_id = user(c)
        params = GenerationParams(prompt="a red circle", width=64, height=64, num_inference_steps=10)
        c.generations.create(user_id, None, params)  # warm the model cache
        first = c.generations.list_for_user(user_id)[0].id
        wait_status(c, Generation, first, timeout=120)
        # A generation reports its denoising steps through the same context (1 and the last always written).
        steps = progress_steps(c, first)
        assert steps[0] == 1 and steps[-1] == 10 and steps == sorted(steps)
        alone = timed_generation(c, user_id, params)
        job = add_echo(c.db, user_id, TINY_MODEL_ID, long=True, steps=120, step_seconds=1.0)
        c.dispatcher.submit(ECHO_LONG, job)
        deadline = time.monotonic() + 20
        while not progress_steps(c, job) and time.monotonic() < deadline:
            time.sleep(0.05)
        beside_long = timed_generation(c, user_id, params)
        with c.db.session() as s:
            assert s.get(LongEchoJob, job).status == "PENDING"  # the long job was running all along
        c.jobs.cancel(job)
        assert wait_status(c, LongEchoJob, job) == "CANCELLED"
    finally:
        c.stop()
    # At most one long step (1 s) of waiting for the engine, plus noise.
    assert beside_long < alone + 1.0 + 0.5, (alone, beside_long)


def timed_generation(c: Container, user_id: str, params: GenerationParams) -> float:
    started = time.monotonic()
    gid = c.generations.create(user_id, None, params)
    assert wait_status(c, Generation, gid, timeout=120) == "COMPLETE"
    return time.monotonic() - started
