"""The official Python SDK suite (tests/api/test_python_sdk.py) against the scaled-out deployment: two API
hosts on PostgreSQL, Redis as the Celery broker, and one worker serving the tiny SD 1.5 and SDXL models.
The SDK talks to the second API host; users are created through the CLI on the shared database. The event
stream's tests (tests/api/test_events_stream.py) run here too: the API host streams what the worker writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sfumato.testing.cluster import cluster_env, running_cluster, scratch_database, scratch_redis
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer
from tests.api.test_events_stream import (  # noqa: F401 — the stream, fed by a Celery worker
    test_another_users_stream_is_the_same_404_as_a_missing_one,
    test_the_stream_shows_pending_then_rising_steps_then_complete,
)
from tests.api.test_python_sdk import (  # noqa: F401 — collected here again, against this module's live_server
    test_another_users_generation_is_not_found,
    test_bad_key_is_refused_with_leonardo_body,
    test_list_platform_models_shows_ids,
    test_me_list_by_user_paging_and_delete,
    test_prompt_only_generation_completes_with_sdk_defaults,
    test_sdxl_model_through_the_sdk,
)

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def live_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Overrides the session's embedded server (tests/conftest.py) for the imported tests."""
    root = tmp_path_factory.mktemp("sdk-cluster")
    with scratch_database("sfumato_sdk") as pg, scratch_redis() as broker:
        env = cluster_env(root / "data", tiny_catalog, pg, broker)
        with running_cluster(env, root, pg, 2, [[TINY_MODEL_ID, TINY_XL_MODEL_ID]]) as cluster:
            yield cluster.apis[1]


def test_the_sdk_generations_ran_on_celery_workers(live_server: LiveServer) -> None:
    """Runs after the imported tests: every generation they made was taken by a worker process."""
    with psycopg.connect(live_server.env["SFUMATO_DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT status, worker FROM generations").fetchall()
    assert len(rows) >= 4 and all(status == "COMPLETE" and worker for status, worker in rows), rows
