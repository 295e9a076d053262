"""One tiny trained Starter Motion run (a few steps on the tiny config), reused by the folder and CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture(scope="session")
def tiny_motion(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sfumato.starter.motion.train import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("motion_tiny")
    model = train(out, minutes=0.1, seed=0, tiny=True, progress=False, snapshot_every=2, overrides={"steps": 3})
    assert model is not None
    return model
