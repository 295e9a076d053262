"""The runner on its own (a real database, stand-in services): a step whose job cannot be queued yet (the user's
queue is full) waits and is made on a later pass; a refused job fails the execution with the node and reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sfumato.services.blueprints import ExecutionRunner
from sfumato.services.errors import Busy, InvalidRequest
from sfumato.store.blueprints import BlueprintExecution, BlueprintStep
from sfumato.store.database import Database
from sfumato.store.models import Generation, User


class Generations:
    """Refuses with each error of `refusals` in turn, then records a PENDING generation."""

    def __init__(self, db: Database, refusals: list[Exception]) -> None:
        self.db, self.refusals, self.calls = db, refusals, 0

    def create(self, user_id: str, api_key_id: str | None, p: Any) -> str:
        self.calls += 1
        if self.refusals:
            raise self.refusals.pop(0)
        with self.db.session() as s:
            s.add(
                Generation(
                    id=f"g{self.calls}", user_id=user_id, model_id="m", model_path="/m", engine_prompt=p.prompt,
                    prompt=p.prompt, width=64, height=64, num_images=1, num_inference_steps=10, guidance_scale=7.0,
                    seed=1, scheduler="LEONARDO", preset_style="DYNAMIC", sd_version="v1_5", options={},
                )
            )  # fmt: skip
        return f"g{self.calls}"


def _execution(db: Database) -> None:
    with db.session() as s:
        s.add(User(id="u", username="u"))
        s.flush()
        s.add(BlueprintExecution(id="e", user_id="u", blueprint_id="b", blueprint_version_id="v", inputs=[]))
        s.flush()
        s.add(BlueprintStep(id="s", execution_id="e", user_id="u", position=0, node_id="gen", operation="generate",
                            settings={"prompt": "a red star"}))  # fmt: skip


def _state(db: Database) -> tuple[str, str, str | None, str | None]:
    with db.session() as s:
        ex, st = s.get(BlueprintExecution, "e"), s.get(BlueprintStep, "s")
        assert ex is not None and st is not None
        return ex.status, st.status, st.generation_id, ex.failure_reason


def test_a_full_queue_makes_the_step_wait_not_fail(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    _execution(db)
    generations = Generations(db, [Busy("you have 200 jobs pending")])
    runner = ExecutionRunner(db)
    runner.use(generations, object(), object())  # type: ignore[arg-type]
    runner.advance("e")
    assert _state(db) == ("PENDING", "WAITING", None, None)
    runner.sweep()  # a later pass: there is room now
    assert _state(db) == ("QUEUED", "RUNNING", "g2", None)
    with db.session() as s:
        generation = s.get(Generation, "g2")
        assert generation is not None
        generation.status, generation.failure_reason = "FAILED", "the model could not be loaded"
    runner.sweep()
    assert _state(db) == ("FAILED", "FAILED", "g2", "node 'gen' (generate) failed: the model could not be loaded")


def test_a_refused_job_fails_the_execution_with_its_reason(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    _execution(db)
    runner = ExecutionRunner(db)
    refusing = Generations(db, [InvalidRequest("modelId m is not a model on this server")])
    runner.use(refusing, object(), object())  # type: ignore[arg-type]
    runner.advance("e")
    assert _state(db) == (
        "FAILED",
        "FAILED",
        None,
        "node 'gen' (generate) failed: modelId m is not a model on this server",
    )
