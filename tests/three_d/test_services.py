"""services/three_d without a server: an operator's texture model that is not installed is named in the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.services.catalog import Catalog
from sfumato.services.errors import InvalidRequest
from sfumato.services.three_d import AssetLimits, ModelAssets, TextureParams, Textures
from sfumato.services.uploads import UploadPolicy
from sfumato.settings import STARTER_MODEL_ID
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore


class NoDispatch:
    def submit(self, kind: str, job_id: str) -> None:
        raise AssertionError("nothing is dispatched")


def test_a_missing_texture_model_is_the_operators_to_fix(sqlite_db: Database, tmp_path: Path) -> None:
    files = LocalFileStore(tmp_path / "files")
    assets = ModelAssets(sqlite_db, files, UploadPolicy(b"secret"), AssetLimits())
    catalog = Catalog(sqlite_db, STARTER_MODEL_ID)
    textures = Textures(sqlite_db, files, catalog, NoDispatch(), assets, "no-such-model")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="SFUMATO_TEXTURE_MODEL_ID") as refused:
        textures.create("u", None, TextureParams("asset", "a red cube"))
    assert "no-such-model" in refused.value.message
