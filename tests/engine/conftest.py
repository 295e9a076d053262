"""Tiny random pipelines, built in code once per test session and loaded from disk like real models."""

from __future__ import annotations

import os

# Nothing in these tests may reach a hub; set before diffusers/transformers read it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from sfumato.engine.engine import Engine  # noqa: E402
from sfumato.engine.tiny import build_tiny_sd15, build_tiny_sdxl  # noqa: E402

# One torch thread: these models are too small to gain from more, and on a CPU shared with other work
# two OpenMP threads waiting on each other made this folder 10x slower.
TEST_THREADS = 1
BUCKETS = [[64, 64], [64, 48], [48, 64], [32, 32]]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_sd15(models_dir: Path) -> Path:
    return build_tiny_sd15(models_dir / "sd15")


@pytest.fixture(scope="session")
def tiny_sdxl(models_dir: Path) -> Path:
    return build_tiny_sdxl(models_dir / "sdxl")


@pytest.fixture(scope="session")
def tiny_sd15_bucketed(models_dir: Path) -> Path:
    return build_tiny_sd15(models_dir / "sd15-buckets", seed=3, buckets=BUCKETS)


@pytest.fixture(scope="session")
def three_models(models_dir: Path) -> list[Path]:
    """Three distinct SD 1.5 folders of equal size, for the LRU tests."""
    return [build_tiny_sd15(models_dir / f"lru-{i}", seed=10 + i) for i in range(3)]


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(memory_budget_bytes=1 << 30, num_threads=TEST_THREADS)


@pytest.fixture(params=["sd15", "sdxl"])
def any_model(request: pytest.FixtureRequest) -> Path:
    return request.getfixturevalue(f"tiny_{request.param}")
