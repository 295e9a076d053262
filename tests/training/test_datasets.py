"""Datasets over HTTP on a live server: create, presigned uploads (same rules as /init-image), copies of
generated images, read with URLs, delete; the teaching errors and other users' 404s."""

from __future__ import annotations

import httpx

from sfumato.testing.live_server import LiveServer
from tests.images.support import encode, generate, picture, post_form


def new_dataset(client: httpx.Client, name: str = "rings") -> str:
    r = client.post("/datasets", json={"name": name, "description": "test set"})
    assert r.status_code == 200, r.text
    return r.json()["insert_datasets_one"]["id"]


def upload_to(client: httpx.Client, dataset_id: str, data: bytes, extension: str = "png") -> str:
    r = client.post(f"/datasets/{dataset_id}/upload", json={"extension": extension})
    assert r.status_code == 200, r.text
    reserved = r.json()["uploadDatasetImage"]
    assert isinstance(reserved["fields"], str) and reserved["key"].endswith(f".{extension}")
    sent = post_form(reserved, data, filename=f"x.{extension}")
    assert sent.status_code == 204, sent.text
    return reserved["id"]


def test_upload_copy_read_and_delete(live_server: LiveServer) -> None:
    client = live_server.client("dora")
    dataset_id = new_dataset(client)
    first = upload_to(client, dataset_id, encode(picture(), "PNG"))
    second = upload_to(client, dataset_id, encode(picture((48, 40)), "JPEG"), "jpg")
    image = generate(client, {})["generated_images"][0]
    copied = client.post(f"/datasets/{dataset_id}/upload/gen", json={"generatedImageId": image["id"]})
    assert copied.status_code == 200, copied.text
    third = copied.json()["uploadDatasetImageFromGen"]["id"]

    body = client.get(f"/datasets/{dataset_id}").json()["datasets_by_pk"]
    assert body["name"] == "rings" and body["description"] == "test set"
    assert [i["id"] for i in body["dataset_images"]] == [first, second, third]
    for item in body["dataset_images"]:
        r = httpx.get(item["url"])  # no auth header, like the CDN
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/")
    assert httpx.get(body["dataset_images"][2]["url"]).content == httpx.get(image["url"]).content

    deleted = client.delete(f"/datasets/{dataset_id}")
    assert deleted.status_code == 200 and deleted.json()["delete_datasets_by_pk"]["id"] == dataset_id
    assert client.get(f"/datasets/{dataset_id}").status_code == 404
    assert httpx.get(body["dataset_images"][0]["url"]).status_code == 404


def test_refusals_name_the_field_and_what_to_send(live_server: LiveServer) -> None:
    client = live_server.client("dora")
    r = client.post("/datasets", json={"description": "no name"})
    assert r.status_code == 400 and "name" in r.json()["error"]
    dataset_id = new_dataset(client)
    r = client.post(f"/datasets/{dataset_id}/upload", json={"extension": "photo.png"})
    assert r.status_code == 400 and "extension" in r.json()["error"]
    refused = client.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()["uploadDatasetImage"]
    assert post_form(refused, b"not an image").status_code == 400
    assert client.get(f"/datasets/{dataset_id}").json()["datasets_by_pk"]["dataset_images"] == []
    generation = generate(client, {})
    r = client.post(f"/datasets/{dataset_id}/upload/gen", json={"generatedImageId": generation["id"]})
    assert r.status_code == 400
    assert (
        "generation id, not an image id" in r.json()["error"]
        and generation["generated_images"][0]["id"] in (r.json()["error"])
    )
    r = client.post(f"/datasets/{generation['id']}/upload", json={"extension": "png"})
    assert r.status_code == 400 and "not a dataset id" in r.json()["error"]


def test_another_users_dataset_is_not_found(live_server: LiveServer) -> None:
    owner, other = live_server.client("dora"), live_server.client("eve")
    dataset_id = new_dataset(owner)
    image_id = generate(owner, {})["generated_images"][0]["id"]
    missing = other.get(f"/datasets/{dataset_id}")
    assert missing.status_code == 404
    assert (
        other.get("/datasets/00000000-0000-4000-8000-000000000000")
        .json()["error"]
        .replace("00000000-0000-4000-8000-000000000000", dataset_id)
        == missing.json()["error"]
    )
    assert other.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).status_code == 404
    assert other.delete(f"/datasets/{dataset_id}").status_code == 404
    # Someone else's generated image is unknown too: nothing is copied.
    own = new_dataset(other)
    r = other.post(f"/datasets/{own}/upload/gen", json={"generatedImageId": image_id})
    assert r.status_code == 404
    assert owner.get(f"/datasets/{dataset_id}").status_code == 200
