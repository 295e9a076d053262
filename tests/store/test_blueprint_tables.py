"""Migration 0016 makes exactly the tables of store/blueprints.py, on SQLite and PostgreSQL; it goes down and up
again; executions and steps cascade with their user, and a step's job link is cleared with its generation."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from sfumato.store import blueprints as _tables  # noqa: F401 (the tables on the metadata)
from sfumato.store.blueprints import BlueprintExecution, BlueprintStep
from sfumato.store.database import Database, alembic_config
from sfumato.store.models import Base, Generation, User

OURS = {"blueprint_executions", "blueprint_steps"}


def _ours(change: object) -> bool:
    return any(table in repr(change) for table in OURS)


def test_the_migrated_schema_is_the_models_schema_and_goes_down_and_up(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if _ours(d)] == []
    command.downgrade(alembic_config(db.engine), "0015")
    with db.engine.connect() as conn:
        assert not OURS & set(conn.dialect.get_table_names(conn))
    db.upgrade()
    with db.engine.connect() as conn:
        assert set(conn.dialect.get_table_names(conn)) >= OURS


def test_rows_cascade_with_the_user_and_a_deleted_generation_unlinks_its_step(db: Database) -> None:
    with db.session() as s:
        s.add(User(id="u", username="u"))
        s.flush()
        s.add(BlueprintExecution(id="e", user_id="u", blueprint_id="b", blueprint_version_id="v", inputs=[]))
        s.add(
            Generation(
                id="g", user_id="u", model_id="m", model_path="/m", engine_prompt="p", prompt="p", width=64,
                height=64, num_images=1, num_inference_steps=10, guidance_scale=7.0, seed=1, scheduler="LEONARDO",
                preset_style="DYNAMIC", sd_version="v1_5", options={},
            )
        )  # fmt: skip
        s.flush()
        s.add(BlueprintStep(id="s", execution_id="e", user_id="u", position=0, node_id="n", operation="generate",
                            settings={}, generation_id="g", status="RUNNING"))  # fmt: skip
    with db.session() as s:
        s.delete(s.get(Generation, "g"))
    with db.session() as s:
        step = s.get(BlueprintStep, "s")
        assert step is not None and step.generation_id is None
        s.delete(s.get(User, "u"))
    with db.session() as s:
        assert s.scalars(select(BlueprintExecution)).all() == [] and s.scalars(select(BlueprintStep)).all() == []
