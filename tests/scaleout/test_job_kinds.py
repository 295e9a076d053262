"""A job kind added as a plugin runs on a Celery worker exactly as in-process: the worker loads the plugin
from SFUMATO_JOB_KIND_PLUGINS, its progress events are read back from PostgreSQL by another process (this
one), and a cancel asked here stops it on the worker at its next step. PostgreSQL + Redis, one worker."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.bootstrap import Container, build
from sfumato.jobs.core.events import JobDone, JobLog, JobProgress, JobStarted
from sfumato.settings import Settings
from sfumato.testing.cluster import Cluster, cluster_env, running_cluster, scratch_database, scratch_redis
from sfumato.testing.echo_kind import ECHO, ECHO_LONG, EchoJob, LongEchoJob, add_echo
from sfumato.testing.live_server import TINY_MODEL_ID

pytestmark = pytest.mark.scaleout
PLUGIN = "sfumato.testing.echo_kind:register"


@pytest.fixture(scope="module")
def world(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Container]]:
    root = tmp_path_factory.mktemp("job-kinds")
    with scratch_database("sfumato_kinds") as pg, scratch_redis() as broker:
        env = cluster_env(
            root / "data",
            tiny_catalog,
            pg,
            broker,
            SFUMATO_JOB_KIND_PLUGINS=PLUGIN,
            SFUMATO_SHUTDOWN_GRACE_SECONDS="0.5",
        )
        with running_cluster(env, root, pg, apis=0, worker_models=[[TINY_MODEL_ID]]) as cluster:
            # This process plays an API host: it submits through the Celery dispatcher and reads the database.
            settings = Settings(
                data_dir=root / "data",
                database_url=pg,
                broker_url=broker,
                redis_url=broker,
                catalog_dir=tiny_catalog,
                default_model_id=TINY_MODEL_ID,
                job_kind_plugins=PLUGIN,
                log_level="WARNING",
            )
            container = build(settings)
            try:
                yield cluster, container
            finally:
                container.db.dispose()


def wait_final(c: Container, table: type, job_id: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with c.db.session() as s:
            status = s.get(table, job_id).status
        if status != "PENDING":
            return status
        time.sleep(0.1)
    raise AssertionError(f"{job_id} still PENDING")


def steps_of(c: Container, job_id: str) -> list[int]:
    return [r.event.step for r in c.runner.events.read(job_id) if isinstance(r.event, JobProgress)]


def test_a_plugin_kind_runs_on_a_celery_worker_with_progress_events(world: tuple[Cluster, Container]) -> None:
    cluster, c = world
    user_id, _ = c.accounts.create_user("echo-user")
    job = add_echo(c.db, user_id, TINY_MODEL_ID, steps=4, step_seconds=0.3, message="from afar")
    c.dispatcher.submit(ECHO, job)
    assert wait_final(c, EchoJob, job) == "COMPLETE", cluster.logs()[-3000:]
    events = [r.event for r in c.runner.events.read(job)]
    worker_pid = cluster.workers[0].pid
    assert isinstance(events[0], JobStarted) and events[0].worker.endswith(f":{worker_pid}")
    assert steps_of(c, job) == [1, 2, 3, 4]
    assert JobLog("echoing 9 characters") in events and events[-1] == JobDone("COMPLETE", None)
    with c.db.session() as s:
        assert c.files.get(s.get(EchoJob, job).output_key) == b"from afar"


def test_a_cancel_from_another_process_stops_the_job_on_the_worker(world: tuple[Cluster, Container]) -> None:
    cluster, c = world
    user_id, _ = c.accounts.create_user("canceller")
    job = add_echo(c.db, user_id, TINY_MODEL_ID, long=True, steps=600, step_seconds=0.05)
    c.dispatcher.submit(ECHO_LONG, job)  # the long lane's queue, which the worker serves too
    deadline = time.monotonic() + 60
    while len(steps_of(c, job)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    view = c.jobs.cancel(job)
    assert view.running_on is not None and view.running_on.endswith(f":{cluster.workers[0].pid}")
    assert wait_final(c, LongEchoJob, job, timeout=10) == "CANCELLED"
    assert max(steps_of(c, job)) < 300
    done = c.runner.events.read(job)[-1].event
    assert isinstance(done, JobDone) and done.status == "CANCELLED"
    assert c.files.count(f"users/{user_id}") == 0


def test_a_training_runs_on_the_long_lane_of_a_celery_worker(world: tuple[Cluster, Container]) -> None:
    """A user element trained by a Celery worker (its model's long-lane queue), on PostgreSQL: progress events
    read back here, the LoRA stored, the integer element id from PostgreSQL's sequence."""
    import io
    import secrets
    import uuid

    from PIL import Image

    from sfumato.services.training.trainings import ElementTrainingParams
    from sfumato.store.training import DatasetImage, Training

    _, c = world
    user_id, _ = c.accounts.create_user("trainer")
    dataset_id = c.datasets.create(user_id, "set", None)
    with c.db.session() as s:
        for n in range(5):
            image_id = str(uuid.uuid4())
            key = f"users/{user_id}/datasets/{dataset_id}/{image_id}.png"
            buf = io.BytesIO()
            Image.new("RGB", (64, 64), (n * 50, 80, 160)).save(buf, format="PNG")
            c.files.put(key, buf.getvalue())
            s.add(DatasetImage(id=image_id, dataset_id=dataset_id, user_id=user_id, extension="png", file_key=key,
                               token=secrets.token_urlsafe(8), status="UPLOADED"))  # fmt: skip
    params = ElementTrainingParams(dataset_id=dataset_id, focus="Style", num_train_epochs=1, learning_rate=1e-6)
    number = c.trainings.create_element(user_id, None, params)
    view = c.trainings.get_element(user_id, number)
    assert wait_final(c, Training, view.id, timeout=240) == "COMPLETE"
    assert steps_of(c, view.id)[-1] == 20  # element_spec's fewest steps
    with c.db.session() as s:
        key = s.get(Training, view.id).adapter_key
    assert key is not None and len(c.files.get(key)) > 1000


def test_generations_waiting_on_a_celery_worker_run_as_one_batch(world: tuple[Cluster, Container]) -> None:
    """The worker is busy; three compatible generations queue up behind; the first one it takes brings the
    other two along from the database (one engine call), and their own deliveries then change nothing."""
    from sfumato.services.generations import GenerationParams
    from sfumato.store.models import Generation

    cluster, c = world
    user_id, _ = c.accounts.create_user("batcher")
    busy = add_echo(c.db, user_id, TINY_MODEL_ID, long=True, steps=40, step_seconds=0.05)
    c.dispatcher.submit(ECHO_LONG, busy)
    deadline = time.monotonic() + 60
    while not steps_of(c, busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs = [
        c.generations.create(user_id, None, GenerationParams(prompt=p, width=64, height=64, num_images=1, seed=3))
        for p in ("a red cat", "a blue house", "green hills")
    ]
    for job in jobs:
        assert wait_final(c, Generation, job, timeout=120) == "COMPLETE", cluster.logs()[-3000:]
    for job in jobs:
        events = [r.event for r in c.runner.events.read(job)]
        assert JobLog("runs in a batch of 3 jobs") in events, events
        assert sum(isinstance(e, JobStarted) for e in events) == 1  # claimed once, by the batch
    with c.db.session() as s:
        assert [s.get(Generation, j).attempts for j in jobs] == [1, 1, 1]


def test_a_worker_stopped_mid_job_hands_it_back_and_another_worker_finishes_it(
    world: tuple[Cluster, Container],
) -> None:
    """SIGTERM (Celery's warm shutdown): after the grace the job stops at its next step, PENDING again with its
    attempt not counted, and a new worker runs it to the end. Last in the module: it replaces the worker."""
    from sfumato.jobs.core.runner import HANDED_BACK_NOTE

    cluster, c = world
    user_id, _ = c.accounts.create_user("stopper")
    job = add_echo(c.db, user_id, TINY_MODEL_ID, long=True, steps=300, step_seconds=0.05, message="handed on")
    c.dispatcher.submit(ECHO_LONG, job)
    deadline = time.monotonic() + 60
    while len(steps_of(c, job)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    first = cluster.workers[0]
    first.send_signal(signal.SIGTERM)
    first.wait(20)
    assert max(steps_of(c, job)) < 300
    with c.db.session() as s:
        row = s.get(LongEchoJob, job)
        assert (row.status, row.attempts, row.worker) == ("PENDING", 0, None), cluster.logs()[-3000:]
    assert JobLog(HANDED_BACK_NOTE) in [r.event for r in c.runner.events.read(job)]
    cluster.start_worker([TINY_MODEL_ID])
    assert wait_final(c, LongEchoJob, job, timeout=120) == "COMPLETE", cluster.logs()[-3000:]
    with c.db.session() as s:
        row = s.get(LongEchoJob, job)
        assert row.attempts == 1 and c.files.get(row.output_key) == b"handed on"
