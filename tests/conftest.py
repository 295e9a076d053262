"""Shared fixtures: tiny diffusers models built in code (no download) and a real server on loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Imported here, while the test process has one thread: imported lazily inside the fixture, after other tests
# left threads running, CPython 3.11's module locks once raised KeyError(<thread id>) from werkzeug's
# imports (python/cpython#87712), failing every S3 test of that run.
from moto.server import ThreadedMotoServer

from sfumato.store.database import Database
from sfumato.store.s3 import S3FileStore
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer, free_port, server_env

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Small native buckets: the engine renders here and resizes, so a 1024x768 request stays fast on a CPU.
TINY_BUCKETS = [[64, 64], [64, 48], [48, 64]]
S3_REGION, S3_KEY, S3_SECRET = "us-east-1", "testing", "testing"  # moto takes any credentials


@pytest.fixture(scope="session")
def tiny_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog folder with a tiny SD 1.5 and a tiny SDXL pipeline, built once per session."""
    from sfumato.engine.tiny import build_tiny_sd15, build_tiny_sdxl

    root = tmp_path_factory.mktemp("models")
    sd15 = build_tiny_sd15(root / "tiny-sd15", seed=0, buckets=TINY_BUCKETS)
    sdxl = build_tiny_sdxl(root / "tiny-sdxl", seed=0, buckets=TINY_BUCKETS)
    catalog = root / "catalog"
    catalog.mkdir()
    (catalog / "tiny.json").write_text(
        json.dumps(
            [
                {
                    "id": TINY_MODEL_ID,
                    "name": "Tiny SD 1.5",
                    "description": "tiny random SD 1.5",
                    "path": str(sd15),
                    "recommended_steps": 10,
                },
                {
                    "id": TINY_XL_MODEL_ID,
                    "name": "Tiny SDXL",
                    "description": "tiny random SDXL",
                    "path": str(sdxl),
                    "recommended_steps": 10,
                },
            ]
        )
    )
    return catalog


@pytest.fixture(scope="session")
def live_server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server (uvicorn, SQLite, in-process worker) shared by the API tests."""
    data = tmp_path_factory.mktemp("data")
    server = LiveServer(server_env(data, tiny_catalog), free_port(), data / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port (in a thread of this process), for the S3 store tests."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import uuid

    from sfumato.store.s3 import make_s3_client

    name = f"sfumato-{uuid.uuid4().hex[:12]}"
    make_s3_client(s3_endpoint, S3_REGION, S3_KEY, S3_SECRET).create_bucket(Bucket=name)
    return name


def new_bucket_store(s3_endpoint: str, prefix: str) -> S3FileStore:
    """A fresh bucket on the moto server, seen through a store under `prefix` (the test's own view of what a
    server given `s3_storage_env` writes)."""
    import uuid

    from sfumato.store.s3 import make_s3_client

    name = f"sfumato-{uuid.uuid4().hex[:12]}"
    client = make_s3_client(s3_endpoint, S3_REGION, S3_KEY, S3_SECRET)
    client.create_bucket(Bucket=name)
    return S3FileStore(client, name, prefix)


def s3_storage_env(store: S3FileStore, s3_endpoint: str) -> dict[str, str]:
    """The settings that make a server keep its files in `store`'s bucket, under its prefix."""
    return {
        "SFUMATO_STORAGE_URL": f"s3://{store.bucket}/{store.prefix}",
        "SFUMATO_S3_ENDPOINT_URL": s3_endpoint,
        "SFUMATO_S3_REGION": S3_REGION,
        "SFUMATO_S3_ACCESS_KEY_ID": S3_KEY,
        "SFUMATO_S3_SECRET_ACCESS_KEY": S3_SECRET,
    }


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated SQLite database of the test's own (tests/store's `db` runs on PostgreSQL too)."""
    database = Database(f"sqlite:///{tmp_path / 'sfumato.db'}")
    database.upgrade()
    yield database
    database.dispose()
