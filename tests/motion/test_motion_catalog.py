"""The bundled Starter Motion catalog entry, and how a motion folder's layout decides what it can do."""

from __future__ import annotations

from pathlib import Path

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.engine.video import follows_prompt_direction, read_motion_settings
from sfumato.services.catalog import REPO_ROOT, Catalog
from sfumato.settings import STARTER_MODEL_ID, STARTER_MOTION_MODEL_ID
from sfumato.store.database import Database


def test_starter_motion_is_listed_exactly_when_its_weights_are_in_the_checkout(sqlite_db: Database) -> None:
    catalog = Catalog(sqlite_db, STARTER_MODEL_ID, default_motion_model_id=STARTER_MOTION_MODEL_ID)
    shipped = (REPO_ROOT / "models" / "starter-motion" / "model_index.json").is_file()
    ids = {e.id: e for e in catalog.entries()}
    assert (STARTER_MOTION_MODEL_ID in ids) == shipped  # never listed as a broken (folder-less) model
    if shipped:
        entry = catalog.motion_model()
        assert entry.id == STARTER_MOTION_MODEL_ID and entry.kind == "motion" and entry.follows_prompts
        assert STARTER_MOTION_MODEL_ID not in [e.id for e in catalog.image_models()]


def test_a_folder_follows_prompts_only_with_the_text_parts_and_directions(tmp_path: Path) -> None:
    stock = build_tiny_svd(tmp_path / "stock")
    prompted = build_tiny_svd(tmp_path / "prompted", follows_prompts=True, buckets=((40, 32), (32, 40)))
    assert not follows_prompt_direction(stock) and follows_prompt_direction(prompted)
    settings = read_motion_settings(prompted)
    # The aspect picks the closest size the model was trained at.
    assert settings.size_for(None) == (32, 32) and settings.size_for(832 / 480) == (40, 32)
    assert settings.size_for(480 / 832) == (32, 40) and settings.size_for(1.0) == (32, 32)
    assert read_motion_settings(stock).size_for(2.0) == (32, 32)  # no buckets: always native


def test_nested_recommended_guidance_is_read(tmp_path: Path) -> None:
    """Starter Motion writes its guidance under `recommended_guidance`; ignoring it would run CFG at SVD's 3.0."""
    (tmp_path / "sfumato_motion.json").write_text(
        '{"native_width": 32, "native_height": 32, "recommended_guidance": '
        '{"min_guidance_scale": 1.0, "max_guidance_scale": 1.0}}'
    )
    settings = read_motion_settings(tmp_path)
    assert (settings.min_guidance_scale, settings.max_guidance_scale) == (1.0, 1.0)
