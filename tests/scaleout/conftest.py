"""A scaled-out deployment on loopback: the machine's PostgreSQL (a fresh database per module, dropped
after) and Redis (a database index of its own, flushed), two API processes and three Celery workers,
each serving a different set of tiny models. The broker is that Redis, or a RabbitMQ vhost of the
module's own where a module sets `broker_kind` (test_cluster.py runs on both). The machinery is in
sfumato.testing.cluster (the benchmark uses it too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest

from sfumato.testing.cluster import (
    Cluster,
    cluster_env,
    running_cluster,
    scratch_database,
    scratch_redis,
    scratch_vhost,
)
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID

EXTRA_A = "0a1b2c3d-0000-4000-8000-0000000000a1"
EXTRA_B = "0a1b2c3d-0000-4000-8000-0000000000b2"
UNSERVED = "0a1b2c3d-0000-4000-8000-0000000000dd"  # in the catalog, served by no worker
# Three workers, three different model sets; every served model has one or two workers.
WORKER_MODELS = [[TINY_MODEL_ID, TINY_XL_MODEL_ID], [TINY_MODEL_ID, EXTRA_A], [EXTRA_A, EXTRA_B]]
UNSERVED_TIMEOUT = 8
MAX_PENDING = 30

__all__ = ["Cluster"]


def _make_catalog(root: Path, tiny_catalog: Path) -> Path:
    from sfumato.engine.tiny import build_tiny_sd15
    from tests.conftest import TINY_BUCKETS

    entries = json.loads((tiny_catalog / "tiny.json").read_text())
    sd15_path = next(e["path"] for e in entries if e["id"] == TINY_MODEL_ID)
    for model_id, seed in ((EXTRA_A, 1), (EXTRA_B, 2)):
        path = build_tiny_sd15(root / f"tiny-{seed}", seed=seed, buckets=TINY_BUCKETS)
        entries.append(
            {
                "id": model_id,
                "name": f"Tiny extra {seed}",
                "description": "tiny",
                "path": str(path),
                "recommended_steps": 10,
            }
        )
    entries.append(
        {
            "id": UNSERVED,
            "name": "Unserved",
            "description": "no worker has it",
            "path": sd15_path,
            "recommended_steps": 10,
        }
    )
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "models.json").write_text(json.dumps(entries))
    return catalog


@pytest.fixture(scope="module")
def broker_kind() -> str:
    """The Celery broker of the module's cluster: "redis" here; test_cluster.py runs on both (BROKERS)."""
    return "redis"


@pytest.fixture(scope="module")
def cluster(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory, broker_kind: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp(f"scaleout-{broker_kind}")
    catalog = _make_catalog(root, tiny_catalog)
    # Redis always holds the request rate limits; with broker_kind "redis" it is the broker too.
    with (
        scratch_database() as pg,
        scratch_redis() as limits,
        scratch_vhost() if broker_kind == "amqp" else nullcontext(limits) as broker,
    ):
        limits_env = {
            "SFUMATO_UNSERVED_MODEL_TIMEOUT_SECONDS": str(UNSERVED_TIMEOUT),
            "SFUMATO_MAX_PENDING_PER_USER": str(MAX_PENDING),
        }
        env = cluster_env(root / "data", catalog, pg, broker, limits_redis=limits, **limits_env)
        with running_cluster(env, root, pg, 2, WORKER_MODELS) as c:
            yield c
