"""Migration 0015 makes exactly the tables of store/three_d.py, on SQLite and PostgreSQL; it goes down and up
again; assets and texture generations cascade with their user, and texture generations with their asset."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, select

from sfumato.store.database import Database, alembic_config
from sfumato.store.models import Base, User
from sfumato.store.three_d import ModelAsset, TextureGeneration

OURS = {"model_assets", "texture_generations"}


def test_the_migrated_schema_is_the_models_schema_and_goes_down_and_up(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if any(t in repr(d) for t in OURS)] == []
    command.downgrade(alembic_config(db.engine), "0014")
    with db.engine.connect() as conn:
        assert not OURS & set(conn.dialect.get_table_names(conn))
    db.upgrade()
    with db.engine.connect() as conn:
        assert set(conn.dialect.get_table_names(conn)) >= OURS


def _texture(texture_id: str, asset_id: str) -> TextureGeneration:
    return TextureGeneration(
        id=texture_id, user_id="u", model_asset_id=asset_id, model_id="m", model_path="/m", prompt="p", seed=1,
        front_rotation_offset=0, preview=False, preview_direction="front", settings={}, token=texture_id,
    )  # fmt: skip


def test_rows_cascade_with_their_user_and_their_asset(db: Database) -> None:
    with db.session() as s:
        s.add(User(id="u", username="u"))
        s.flush()
        for asset in ("a1", "a2"):
            s.add(ModelAsset(id=asset, user_id="u", name="", extension="obj", file_key=f"k/{asset}", token=asset))
        s.flush()
        s.add_all([_texture("t1", "a1"), _texture("t2", "a2")])
    with db.session() as s:
        s.execute(delete(ModelAsset).where(ModelAsset.id == "a1"))
    with db.session() as s:
        assert s.scalars(select(TextureGeneration.id)).all() == ["t2"]
        s.execute(delete(User).where(User.id == "u"))
    with db.session() as s:
        assert s.scalars(select(ModelAsset.id)).all() == [] and s.scalars(select(TextureGeneration.id)).all() == []
