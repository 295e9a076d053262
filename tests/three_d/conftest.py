"""Fixtures of the 3D tests: a tiny SD 1.5 with a tiny random depth ControlNet installed, built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.engine.control_tiny import build_tiny_controlnet
from sfumato.engine.tiny import build_tiny_sd15

DEPTH_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000003d0"


@pytest.fixture(scope="session")
def depth_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny_sd15(tmp_path_factory.mktemp("depth-model") / "tiny-depth", seed=3, buckets=[[64, 64]])
    build_tiny_controlnet(folder, kind="depth")
    return folder
