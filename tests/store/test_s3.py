"""The FileStore contract, for the local disk and for S3 (moto's server on loopback), plus what only the
S3 store does: URLs clients download from without our auth, and presigned POST uploads."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from sfumato.store.files import FileStore, LocalFileStore
from sfumato.store.s3 import S3FileStore, make_s3_client, parse_storage_url
from tests.conftest import S3_KEY, S3_REGION, S3_SECRET


def s3_store(endpoint: str, bucket: str, prefix: str = "deploy/", public: str | None = None) -> S3FileStore:
    return S3FileStore(make_s3_client(endpoint, S3_REGION, S3_KEY, S3_SECRET), bucket, prefix, public)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return LocalFileStore(tmp_path)
    return s3_store(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))


def test_put_replaces_the_whole_object(store: FileStore) -> None:
    store.put("users/u/a.png", b"old")
    store.put("users/u/a.png", b"new contents")
    assert store.get("users/u/a.png") == b"new contents"
    assert store.count("users/u/") == 1


def test_a_missing_key_is_file_not_found(store: FileStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.get("users/u/missing.png")
    store.delete("users/u/missing.png")  # deleting nothing is fine


def test_keys_cannot_escape_the_store(store: FileStore) -> None:
    for key in ("../outside.png", "users/../../x", "/etc/passwd"):
        with pytest.raises(ValueError, match="escapes"):
            store.put(key, b"x")


def test_delete_prefix_and_count_work_on_folders(store: FileStore) -> None:
    for key in ("users/a/g1/1.png", "users/a/g1/2.png", "users/a/g2/1.png", "users/b/g3/1.png", "users/ab/1.png"):
        store.put(key, b"x")
    assert store.count("users/a") == 3 and store.count("users/a/") == 3  # never users/ab
    store.delete_prefix("users/a/g1/")
    assert store.count("users/a") == 1 and store.count() == 3
    store.delete_prefix("users/missing/")
    store.delete("users/b/g3/1.png")
    assert store.count() == 2


def test_s3_keys_live_under_the_prefix_and_stores_with_other_prefixes_do_not_see_them(
    s3_endpoint: str, s3_bucket: str
) -> None:
    one, two = s3_store(s3_endpoint, s3_bucket, "one/"), s3_store(s3_endpoint, s3_bucket, "two/")
    one.put("users/u/a.png", b"1")
    two.put("users/u/a.png", b"2")
    assert one.get("users/u/a.png") == b"1" and one.count() == 1
    one.delete_prefix("users/")
    assert one.count() == 0 and two.get("users/u/a.png") == b"2"
    assert one.local_path("users/u/a.png") is None  # nothing on local disk


def test_s3_url_is_a_week_long_presigned_get_that_needs_no_auth(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket)
    store.put("users/u/a.png", b"\x89PNG fake")
    url = store.url("users/u/a.png")
    query = parse_qs(urlparse(url).query)
    assert urlparse(url).path == f"/{s3_bucket}/deploy/users/u/a.png"
    assert query["X-Amz-Expires"] == [str(7 * 24 * 3600)] and "X-Amz-Signature" in query
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == b"\x89PNG fake" and r.headers["content-type"] == "image/png"


def test_s3_url_with_a_public_base_is_the_base_plus_the_key(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket, public="https://cdn.example.com/")
    assert store.url("users/u/a b.png") == "https://cdn.example.com/deploy/users/u/a%20b.png"


def test_s3_presigned_post_writes_the_key(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket)
    url, fields = store.presigned_post("users/u/init.png", "image/png", 100, timedelta(minutes=2))
    assert fields["key"] == "deploy/users/u/init.png" and fields["Content-Type"] == "image/png"
    r = httpx.post(url, data=fields, files={"file": ("init.png", b"bytes", "image/png")})
    assert r.status_code == 204
    assert store.get("users/u/init.png") == b"bytes" and store.size("users/u/init.png") == 5
    assert store.size("users/u/none.png") is None


def test_storage_url_parsing() -> None:
    assert parse_storage_url("s3://bucket") == ("bucket", "")
    assert parse_storage_url("s3://bucket/a/b/") == ("bucket", "a/b/")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        parse_storage_url("https://bucket/a")
