"""A live server storing its files in S3 (moto's server on loopback): image URLs are presigned GETs that
download without auth, init images go straight to the bucket with a presigned POST and are checked on first
use, webhook bodies carry the same URLs as the API, and deleting removes the objects."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from sfumato.store.s3 import S3FileStore
from sfumato.testing.live_server import LiveServer, cli_json, free_port, server_env
from tests.conftest import new_bucket_store, s3_storage_env
from tests.images.support import encode, generate, picture, post_form, reserve

pytestmark = [pytest.mark.timeout(300)]
PREFIX = "prod/"


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> S3FileStore:
    return new_bucket_store(s3_endpoint, PREFIX)


@pytest.fixture(scope="module")
def s3_server(
    tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, bucket: S3FileStore
) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("s3-data")
    env = {**server_env(data, tiny_catalog), **s3_storage_env(bucket, s3_endpoint)}
    env.update(SFUMATO_WEBHOOK_ALLOW_PRIVATE="true")
    server = LiveServer(env, free_port(), data / "server.log")
    server.start()
    yield server
    server.stop()


def test_images_are_presigned_s3_urls_that_download_without_auth(
    s3_server: LiveServer, bucket: S3FileStore, s3_endpoint: str
) -> None:
    client = s3_server.client("s3-alice")
    gen = generate(client, {"num_images": 2})
    assert gen["status"] == "COMPLETE"
    user_id = s3_server.user("s3-alice")["user_id"]
    assert bucket.count(f"users/{user_id}/generations/{gen['id']}/") == 2
    for image in gen["generated_images"]:
        url = urlparse(image["url"])
        assert f"{url.scheme}://{url.netloc}" == s3_endpoint and "X-Amz-Signature=" in url.query
        assert url.path == f"/{bucket.bucket}/{PREFIX}users/{user_id}/generations/{gen['id']}/{image['id']}.png"
        r = httpx.get(image["url"])  # straight from the bucket, no Authorization header
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
    local = Path(s3_server.env["SFUMATO_DATA_DIR"]) / "files"
    assert not any(p.is_file() for p in local.rglob("*")), "nothing is written to local disk"


def test_webhook_bodies_carry_the_same_s3_urls_as_the_api(s3_server: LiveServer) -> None:
    s3_server.user("s3-hooked")
    key = cli_json(
        s3_server.env, "keys", "create", "--user", "s3-hooked", "--webhook-url", "http://127.0.0.1:9/hook"
    )  # nobody listens: the body stays in the outbox
    client = httpx.Client(base_url=s3_server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
    gen = generate(client, {})
    db = Path(s3_server.env["SFUMATO_DATA_DIR"]) / "sfumato.db"
    deadline = time.monotonic() + 30
    rows: list[tuple[str]] = []
    while time.monotonic() < deadline and not rows:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT payload FROM webhook_deliveries WHERE object_id = ?", (gen["id"],)).fetchall()
        time.sleep(0.2)
    (hook_image,) = json.loads(rows[0][0])["data"]["object"]["images"]
    (api_image,) = gen["generated_images"]
    # Presigned twice (different dates in the query), same object.
    assert urlparse(hook_image["url"])[:3] == urlparse(api_image["url"])[:3]
    assert httpx.get(hook_image["url"]).status_code == 200


def test_init_image_presigned_post_goes_to_s3_then_feeds_image_to_image(
    s3_server: LiveServer, s3_endpoint: str
) -> None:
    client = s3_server.client("s3-bob")
    up = reserve(client, "png")
    assert up["url"].startswith(s3_endpoint)  # the client talks to S3 directly
    fields = json.loads(up["fields"])
    assert {"key", "Content-Type", "policy", "x-amz-signature"} <= set(fields)
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["content-length-range", 1, 20 * 1024 * 1024] in policy["conditions"]
    r = httpx.post(up["url"], data=fields, files={"file": ("me.png", encode(picture(), "PNG"), "image/png")})
    assert r.status_code == 204, r.text
    gen = generate(client, {"init_image_id": up["id"], "init_strength": 0.5})
    assert gen["status"] == "COMPLETE" and gen["initStrength"] == 0.5
    got = client.get(f"/init-image/{up['id']}").json()["init_images_by_pk"]
    r = httpx.get(got["url"])
    assert got["url"].startswith(s3_endpoint) and r.status_code == 200 and r.content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encode(picture(), "JPEG"), "is a JPEG file, but the upload was reserved for extension 'png'"),
        (encode(picture((4100, 8)), "PNG"), "the image is 4100x8"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "could not be decoded"),
    ],
)
def test_a_bad_object_uploaded_to_s3_is_refused_on_first_use(
    s3_server: LiveServer, bucket: S3FileStore, data: bytes, reason: str
) -> None:
    client = s3_server.client("s3-carol")
    up = reserve(client, "png")
    assert post_form(up, data).status_code == 204  # moto does not check the policy; the server must
    r = client.post("/generations", json={"prompt": "x", "init_image_id": up["id"], "width": 64, "height": 64})
    assert r.status_code == 400, r.text
    assert f"init image {up['id']} was refused" in r.json()["error"] and reason in r.json()["error"]
    key = json.loads(up["fields"])["key"].removeprefix(PREFIX)
    assert bucket.size(key) is None, "the refused object is deleted"
    r = client.post("/generations", json={"prompt": "x", "init_image_id": up["id"]})
    assert r.status_code == 400 and "has no file yet" in r.json()["error"]


def test_deleting_a_generation_and_a_user_removes_their_objects(s3_server: LiveServer, bucket: S3FileStore) -> None:
    client = s3_server.client("s3-dave")
    user_id = s3_server.user("s3-dave")["user_id"]
    keep, gone = generate(client, {}), generate(client, {"num_images": 2})
    assert bucket.count(f"users/{user_id}/generations/{gone['id']}/") == 2
    assert client.delete(f"/generations/{gone['id']}").status_code == 200
    assert bucket.count(f"users/{user_id}/generations/{gone['id']}/") == 0
    assert bucket.count(f"users/{user_id}/generations/{keep['id']}/") == 1
    assert httpx.get(keep["generated_images"][0]["url"]).status_code == 200
    needles = {user_id, keep["id"], gone["id"], *(i["id"] for i in keep["generated_images"])}
    assert any(n in key for key in bucket.object_keys() for n in needles)  # the scan sees the user's objects
    cli_json(s3_server.env, "users", "delete", "s3-dave")
    # Enumerated, not looked up by the prefix the code uses: no object anywhere in the bucket names them.
    assert [key for key in bucket.object_keys() if any(n in key for n in needles)] == []


def test_datasets_and_trained_elements_live_in_the_bucket(s3_server: LiveServer, bucket: S3FileStore) -> None:
    """Dataset images go straight to the bucket (checked when trained on: a bad one is refused then), the
    element's LoRA is stored there, and a generation applies it from the worker's local copy."""
    client = s3_server.client("s3-erin")
    user_id = s3_server.user("s3-erin")["user_id"]
    dataset_id = client.post("/datasets", json={"name": "s3 set"}).json()["insert_datasets_one"]["id"]
    uploads = []
    for n in range(5):
        up = client.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()["uploadDatasetImage"]
        assert post_form(up, encode(picture((64, 64), (n * 40, 20, 20)), "PNG")).status_code == 204
        uploads.append(up)
    bad = client.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()["uploadDatasetImage"]
    assert post_form(bad, b"\x89PNG\r\n\x1a\n" + b"\0" * 64).status_code == 204  # moto checks nothing
    body = {"datasetId": dataset_id, "lora_focus": "Style", "num_train_epochs": 1, "learning_rate": 1e-6}
    refused = client.post("/elements", json=body)
    assert refused.status_code == 400 and f"dataset image {bad['id']} was refused" in refused.json()["error"]
    images = client.get(f"/datasets/{dataset_id}").json()["datasets_by_pk"]["dataset_images"]
    assert {i["id"] for i in images} == {u["id"] for u in uploads}
    assert all(httpx.get(i["url"]).status_code == 200 for i in images)  # presigned GETs from the bucket

    number = client.post("/elements", json=body).json()["sdTrainingJob"]["userLoraId"]
    deadline = time.monotonic() + 240
    while (element := client.get(f"/elements/{number}").json()["user_loras_by_pk"])["status"] == "PENDING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert element["status"] == "COMPLETE", element.get("failureReason")
    assert bucket.count(f"users/{user_id}/trainings/") == 1
    gen = generate(client, {"userElements": [{"userLoraId": number, "weight": 1}]})
    assert gen["status"] == "COMPLETE" and gen["generation_elements"][0]["id"] == number
    needles = {user_id, dataset_id, gen["id"], *(u["id"] for u in [*uploads, bad])}
    assert {n for n in needles if any(n in key for key in bucket.object_keys())} >= {user_id, dataset_id, gen["id"]}
    cli_json(s3_server.env, "users", "delete", "s3-erin")
    assert [key for key in bucket.object_keys() if any(n in key for n in needles)] == []
