"""`sfumato models train`, `sfumato elements train` and `sfumato trainings ...`: custom models and elements for
operators. A training is the same job as POST /models or POST /elements (for the user named): the server's workers
run it (an embedded server finds new jobs within SFUMATO_JOB_SWEEP_SECONDS) and this command follows it with a
progress bar. `trainings show` prints a training's full state: queued, running (step i of n, ETA), succeeded,
failed (why) or cancelled."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any

import typer
from sqlalchemy import select

from sfumato.bootstrap import Container
from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly
from sfumato.services.errors import NotFound
from sfumato.services.training.trainings import (
    ElementTrainingParams,
    ModelTrainingParams,
    training_view,
)
from sfumato.store.models import User
from sfumato.store.training import ElementNumber, Training

elements_app = typer.Typer(help="Elements (LoRAs): train one for a user.", no_args_is_help=True)
trainings_app = typer.Typer(help="Trainings of custom models and elements: list, show, follow.", no_args_is_help=True)

NoWait = Annotated[bool, typer.Option("--no-wait", help="Print the training's id and return at once.")]
DatasetOpt = Annotated[str, typer.Option("--dataset", help="The user's dataset id (POST /datasets).")]
InstanceOpt = Annotated[str, typer.Option("--instance-prompt", help="The word that stands for the subject.")]


def _user_id(c: Container, username: str) -> str:
    with c.db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}; `sfumato users create {username}` makes one")
    return user.id


def describe(c: Container, training_id: str) -> dict[str, Any]:
    with c.db.session() as s:
        row = s.get(Training, training_id)
        if row is None:
            raise NotFound(f"no training {training_id}")
        number = None
        if row.target == "element":
            number = s.scalar(select(ElementNumber.id).where(ElementNumber.training_id == row.id))
        view = training_view(row, number)
    out = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in asdict(view).items()}
    return {**out, "state": view.state, "eta_seconds": view.eta_seconds}


def _line(d: dict[str, Any]) -> str:
    ident = f"element {d['number']} (training {d['id']})" if d["number"] is not None else f"model {d['id']}"
    progress = f" step {d['step']} of {d['steps']}" if d["state"] == "running" else ""
    eta = f", about {d['eta_seconds']:.0f} s left" if d.get("eta_seconds") else ""
    reason = f": {d['failure_reason']}" if d["failure_reason"] else ""
    return f"{ident} {d['name']!r}: {d['state']}{progress}{eta}{reason}"


RUNNING = ("queued", "running")


def _finish(c: Container, training_id: str, no_wait: bool, as_json: bool) -> None:
    """Follow the training to its end (the server's or the workers' job), with a progress bar fed from the row:
    one read per half second. Running it here instead could run it twice: an embedded server would take the
    same PENDING job."""
    d = describe(c, training_id)
    if no_wait:
        emit(as_json, d, f"{_line(d)}; follow it with `sfumato trainings show {training_id} --follow`")
        return
    with typer.progressbar(length=1, label="training (run by the server's workers)", hidden=as_json) as bar:
        while d["state"] in RUNNING:
            if d["steps"]:
                bar.length = d["steps"]
                bar.update(d["step"] - bar.pos)
            time.sleep(0.5)
            d = describe(c, training_id)
    emit(as_json, d, _line(d))
    if d["state"] != "succeeded":
        raise typer.Exit(code=1)


@fails_cleanly
def models_train(
    username: Annotated[str, typer.Argument(help="Whose custom model it is.")],
    dataset: DatasetOpt,
    instance_prompt: InstanceOpt,
    name: Annotated[str, typer.Option(help="The model's name.")] = "custom model",
    strength: Annotated[str, typer.Option(help="VERY_LOW, LOW, MEDIUM or HIGH (more steps).")] = "MEDIUM",
    sd_version: Annotated[str, typer.Option(help="v1_5 or v2: which base model family.")] = "v1_5",
    no_wait: NoWait = False,
    as_json: JsonFlag = False,
) -> None:
    """Train a custom model for a user (as POST /models does) and show its progress."""
    c = container()
    params = ModelTrainingParams(
        name=name, dataset_id=dataset, instance_prompt=instance_prompt, strength=strength, sd_version=sd_version
    )
    training_id = c.trainings.create_model(_user_id(c, username), None, params)
    _finish(c, training_id, no_wait, as_json)


@elements_app.command("train")
@fails_cleanly
def elements_train(
    username: Annotated[str, typer.Argument(help="Whose element it is.")],
    dataset: DatasetOpt,
    instance_prompt: Annotated[str, typer.Option("--instance-prompt", help="The trigger word (none for Style).")] = "",
    name: Annotated[str, typer.Option(help="The element's name.")] = "element",
    focus: Annotated[str, typer.Option(help="General, Character, Style or Object.")] = "General",
    epochs: Annotated[int, typer.Option(help="num_train_epochs, 1-250.")] = 100,
    learning_rate: Annotated[float, typer.Option(help="Leonardo's learning_rate (1e-6 default).")] = 1e-6,
    train_text_encoder: Annotated[bool, typer.Option(help="Also a LoRA on the text encoder.")] = True,
    no_wait: NoWait = False,
    as_json: JsonFlag = False,
) -> None:
    """Train an element for a user (as POST /elements does) and show its progress."""
    c = container()
    params = ElementTrainingParams(
        name=name,
        dataset_id=dataset,
        instance_prompt=instance_prompt,
        focus=focus,
        num_train_epochs=epochs,
        learning_rate=learning_rate,
        train_text_encoder=train_text_encoder,
    )
    number = c.trainings.create_element(_user_id(c, username), None, params)
    with c.db.session() as s:
        found = s.get(ElementNumber, number)
        assert found is not None
        training_id = found.training_id
    _finish(c, training_id, no_wait, as_json)


@trainings_app.command("list")
@fails_cleanly
def trainings_list(
    user: Annotated[str | None, typer.Option(help="Only this user's.")] = None, as_json: JsonFlag = False
) -> None:
    """Every training (custom models and elements), newest first, with its state."""
    c = container()
    with c.db.session() as s:
        query = select(Training.id).order_by(Training.created_at.desc())
        if user is not None:
            query = query.where(Training.user_id == _user_id(c, user))
        ids = list(s.scalars(query).all())
    rows = [describe(c, i) for i in ids]
    emit(as_json, rows, "\n".join(_line(r) for r in rows) or "no trainings")


@trainings_app.command("show")
@fails_cleanly
def trainings_show(
    training_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Print again until it ends.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """A training's full state: queued, running (step i of n, ETA), succeeded, failed (why) or cancelled.
    `sfumato jobs cancel ID` stops a running one at its next step, with a checkpoint."""
    c = container()
    while True:
        d = describe(c, training_id)
        emit(as_json, d, _line(d))
        if not follow or d["state"] not in RUNNING:
            return
        time.sleep(2)
