"""The training tests' live server (tests/training/support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.testing.live_server import LiveServer
from tests.training.support import start_training_server


@pytest.fixture(scope="module")
def training_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_training_server(tiny_catalog, tmp_path_factory)
