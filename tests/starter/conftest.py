"""Shared fixtures: one tiny trained Starter run (a few steps) reused by the I/O and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sfumato.starter.recipe import run

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("starter_tiny")
    model = run(out, minutes=0.05, seed=0, tiny=True, progress=False, snapshot_every=0)
    assert model is not None
    return model
