"""Scaled out (PostgreSQL, Redis, a Celery worker in its own process): an execution's steps are made where their
jobs finish. The worker that finished a step's job makes the next one (the finish hook, after its commit) and
the execution completes; the API host made only the first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sfumato.testing.cluster import Cluster, cluster_env, running_cluster, scratch_database, scratch_redis
from sfumato.testing.live_server import TINY_MODEL_ID
from tests.blueprints.support import CUTOUT_V1, wait_execution

pytestmark = [pytest.mark.postgres, pytest.mark.scaleout]


@pytest.fixture(scope="module")
def cluster(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("bp-scaleout")
    with scratch_database("sfumato_bp") as pg, scratch_redis() as broker:
        env = cluster_env(root / "data", tiny_catalog, pg, broker)
        with running_cluster(env, root, pg, 1, [[TINY_MODEL_ID]]) as c:
            yield c


def test_a_worker_moves_the_execution_on(cluster: Cluster) -> None:
    api = cluster.apis[0]
    with api.client("bp-celery") as client:
        body = {"blueprintVersionId": CUTOUT_V1, "input": {"nodeInputs": [], "public": False}}
        execution_id = client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
        done = wait_execution(client, execution_id)
    assert done["status"] == "COMPLETED", (done, cluster.logs()[-3000:])
    upscale, cutout = done["steps"][1]["variationId"], done["steps"][2]["variationId"]
    worker_log = cluster.worker_log(0).read_text()
    assert f"node upscale (upscale) -> variation {upscale}" in worker_log
    assert f"node remove_background (remove_background) -> variation {cutout}" in worker_log
