"""`sfumato jobs`: jobs of every kind (generations, variations, and each registered kind) by id."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

import typer

from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly

jobs_app = typer.Typer(help="Jobs of every kind: cancel one, follow its events.", no_args_is_help=True)


@jobs_app.command("cancel")
@fails_cleanly
def cancel(job_id: str, as_json: JsonFlag = False) -> None:
    """Cancel a job: one waiting for a worker is CANCELLED at once, a running one stops at its next step.
    Leonardo's clients see a cancelled job as FAILED, with the reason."""
    view = container().jobs.cancel(job_id)
    emit(as_json, {**asdict(view), "message": view.message}, view.message)


@jobs_app.command("events")
@fails_cleanly
def events(
    job_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job is done.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """A job's events: started, progress (step i of n), log lines, done (with the final status)."""
    jobs, after = container().jobs, 0
    while True:
        batch = jobs.events(job_id, after)
        for e in batch:
            emit(as_json, {**asdict(e), "at": e.at.isoformat()}, e.text())
        after = batch[-1].seq if batch else after
        if not follow or any(e.type == "done" for e in batch):
            return
        time.sleep(0.5)
