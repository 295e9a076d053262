"""Migrations that move data, on SQLite and PostgreSQL: 0007 moves a generation's image inputs out of the
`extras` JSON (Leonardo's key names) into typed columns and keeps the accepted options under our names; its
downgrade puts them back."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import text

from sfumato.store.database import Database, alembic_config

OLD_EXTRAS = {
    "initImageId": "init-1",
    "inputFiles": {"init": "users/u/init/init-1.png", "prompts": ["users/u/g/p1.png"]},
    "imagePrompts": ["img-p1"],
    "imagePromptWeight": 0.7,
    "imagePromptMethod": "latent-adain+colour-match",
    "transparency": "foreground_only",
    "transparencyMethod": "border-colour-key",
    "photoReal": True,
    "controlNetType": "CANNY",
}


@pytest.fixture
def at_0006(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    command.upgrade(alembic_config(db.engine), "0006")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, username, api_concurrency_slots, created_at) "
                "VALUES ('u', 'u', 10, CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO generations (id, user_id, status, attempts, model_id, model_path, engine_prompt, prompt,"
                " width, height, num_images, num_inference_steps, guidance_scale, seed, scheduler, preset_style,"
                " sd_version, public, tiling, init_strength, extras, created_at, updated_at) VALUES ('g', 'u',"
                " 'COMPLETE', 1, 'm', '/m', 'p', 'p', 64, 64, 1, 10, 7.0, 1, 'DDIM', 'DYNAMIC', 'v1_5', false,"
                " false, 0.6, :extras, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"extras": json.dumps(OLD_EXTRAS)},
        )
    yield db
    db.dispose()


def test_0007_moves_image_inputs_to_columns_and_back(at_0006: Database) -> None:
    at_0006.upgrade()
    with at_0006.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM generations WHERE id = 'g'")).mappings().one()
    assert "extras" not in row
    assert (row["init_image_id"], row["init_generated_image_id"]) == ("init-1", None)
    assert row["init_file_key"] == "users/u/init/init-1.png" and row["init_strength"] == 0.6
    assert _json(row["image_prompt_ids"]) == ["img-p1"]
    assert _json(row["image_prompt_file_keys"]) == ["users/u/g/p1.png"]
    assert row["image_prompt_weight"] == 0.7 and row["image_prompt_method"] == "latent-adain+colour-match"
    assert (row["transparency"], row["transparency_method"]) == ("foreground_only", "border-colour-key")
    assert _json(row["options"]) == {"photo_real": True, "control_net_type": "CANNY"}  # our names only

    command.downgrade(alembic_config(at_0006.engine), "0006")
    with at_0006.engine.connect() as conn:
        extras = conn.execute(text("SELECT extras FROM generations WHERE id = 'g'")).scalar_one()
    assert _json(extras) == OLD_EXTRAS


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value
