"""The Celery application both sides share: API hosts only publish (`send_task`, no torch), workers consume.

One queue per model and lane (`queue_for`), so a job only reaches a worker that has its model loaded and
serves its lane (long jobs, such as training, go to workers started with `--lanes long`). The
delivery guarantees come from Celery, configured here once:
- `task_acks_late`: the message is acknowledged after the job ran, so a worker that dies mid-job leaves
  it unacknowledged; `task_reject_on_worker_lost` makes a lost pool process requeue it instead of acking.
- Redis `visibility_timeout`: an unacknowledged message goes back to its queue after this long (a worker
  that was SIGKILLed never acknowledges); RabbitMQ requeues at once when the connection drops.
- prefetch 1: a worker holds no job it is not running, so a queue's jobs spread over its workers.
The job itself is the same JobRunner.run call as in the embedded default (registered by jobs/worker.py).
"""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery, Task

from sfumato.jobs.core.lanes import Lane
from sfumato.jobs.core.status import RunOutcome

TASK_NAME = "sfumato.run_job"
# Interactive queues keep the name they had before lanes existed, so messages already queued still run.
QUEUE_PREFIX = {Lane.INTERACTIVE: "sfumato.model.", Lane.LONG: "sfumato.long.model."}
RETRY_LATER_SECONDS = 2.0

# Set by the worker process before it consumes: JobRunner.run (kind, job id) -> outcome.
_run: list[Callable[[str, str], RunOutcome]] = []


def queue_for(model_id: str, lane: Lane = Lane.INTERACTIVE) -> str:
    return QUEUE_PREFIX[lane] + model_id


def queue_for_model(model_id: str) -> str:
    return queue_for(model_id, Lane.INTERACTIVE)


def register_runner(run: Callable[[str, str], RunOutcome]) -> None:
    _run[:] = [run]


def make_celery(broker_url: str, visibility_timeout: int) -> Celery:
    app = Celery("sfumato", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,  # the runner already recorded FAILED in the database
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # the database is the source of truth for status, not a result backend
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": visibility_timeout},
        # RabbitMQ: no AMQP heartbeats. A worker runs its job on the thread that would send them (solo pool),
        # so a job longer than two heartbeats would get its connection closed and its message redelivered.
        # Liveness is the database heartbeat instead: a job whose worker's lease went stale is published
        # again (jobs/republish.py), and a killed worker's socket closes at once anyway. A `?heartbeat=` in the
        # broker URL would override this (kombu); tests/scaleout/test_long_job.py runs a job of several
        # heartbeat intervals once, and shows a worker with heartbeats losing its connection mid-job.
        broker_heartbeat=0,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_create_missing_queues=True,
    )

    @app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True)
    def run_job(self: Task, kind: str, job_id: str) -> None:
        if _run[0](kind, job_id) == RunOutcome.RETRY_LATER:
            # A new message on the same queue; this one is acknowledged. No retry cap: the wait ends
            # when a slot frees up or the holder's lease goes stale.
            raise self.retry(countdown=RETRY_LATER_SECONDS, max_retries=None)

    return app
