"""Init images the presigned way, as the SDK and as scripts do it, and every refusal (storing nothing)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models.errors import SDKError
from PIL import Image

from sfumato.services.uploads import UploadPolicy
from sfumato.testing.live_server import LiveServer
from tests.images.support import encode, fetch, file_count, picture, post_form, reserve, upload


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("uploader")


def server_policy(server: LiveServer, **kwargs: object) -> UploadPolicy:
    secret = (Path(server.env["SFUMATO_DATA_DIR"]) / "upload_secret").read_text().strip().encode()
    return UploadPolicy(secret, **kwargs)  # type: ignore[arg-type]


def test_sdk_reserve_upload_get_delete(live_server: LiveServer) -> None:
    sdk = LeonardoAiSDK(bearer_auth=live_server.user("uploader")["api_key"], server_url=live_server.api_url)
    res = sdk.init_images.upload_init_image(request={"extension": "png"}).object.upload_init_image
    fields = json.loads(res.fields)  # a JSON *string*, as on Leonardo
    assert fields["key"] == res.key and res.key.endswith(f"{res.id}.png") and "Policy" in fields
    r = httpx.post(res.url, data=fields, files={"file": ("cat.png", encode(picture(), "PNG"))})
    assert r.status_code == 204 and r.content == b""
    got = sdk.init_images.get_init_image_by_id(id=res.id).object.init_images_by_pk
    assert got.id == res.id and got.created_at
    assert fetch(got.url).size == (64, 64)
    deleted = sdk.init_images.delete_init_image_by_id(id=res.id).object.delete_init_images_by_pk
    assert deleted.id == res.id
    assert httpx.get(got.url).status_code == 404
    with pytest.raises(SDKError) as err:
        sdk.init_images.get_init_image_by_id(id=res.id)
    assert err.value.status_code == 404


@pytest.mark.parametrize(("extension", "fmt"), [("png", "PNG"), ("JPG", "JPEG"), (".jpeg", "JPEG"), ("WebP", "WEBP")])
def test_formats_and_extension_in_any_case(client: httpx.Client, extension: str, fmt: str) -> None:
    reserved = reserve(client, extension)
    # No content type on the file part, an unrelated file name, and an Authorization header (ignored).
    r = post_form(
        reserved,
        encode(picture(), fmt),
        filename="whatever.bin",
        content_type=None,
        headers={"Authorization": "Bearer something"},
    )
    assert r.status_code == 204, r.text
    url = client.get(f"/init-image/{reserved['id']}").json()["init_images_by_pk"]["url"]
    assert url.endswith("." + extension.lower().lstrip("."))
    assert fetch(url).format == fmt


def test_exif_orientation_is_applied(client: httpx.Client) -> None:
    img = Image.new("RGB", (48, 24), (0, 120, 250))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    reserved = reserve(client, "jpg")
    assert post_form(reserved, encode(img, "JPEG", exif=exif), content_type="image/jpeg").status_code == 204
    url = client.get(f"/init-image/{reserved['id']}").json()["init_images_by_pk"]["url"]
    assert fetch(url).size == (24, 48)


def test_refused_uploads_store_nothing(live_server: LiveServer, client: httpx.Client) -> None:
    before = file_count(live_server)
    png = encode(picture(), "PNG")
    reserved = reserve(client, "png")
    fields = json.loads(reserved["fields"])

    tampered = {**fields, "X-Amz-Signature": "0" * 64}
    r = post_form(reserved, png, fields=tampered)
    assert r.status_code == 403 and "SignatureDoesNotMatch" in r.json()["error"]

    other_key = {**fields, "key": fields["key"].replace(".png", "x.png")}
    assert post_form(reserved, png, fields=other_key).status_code == 403

    r = post_form(reserved, encode(picture(), "JPEG"))  # a JPEG where a PNG was declared
    assert r.status_code == 400 and "JPEG" in r.json()["error"]
    r = post_form(reserved, b"not an image at all")
    assert r.status_code == 400 and "not an image" in r.json()["error"]

    # A bomb: tiny on the wire, huge when decoded: refused from its header.
    bomb = encode(Image.new("1", (6000, 6000)), "PNG")
    assert len(bomb) < 100_000
    r = post_form(reserved, bomb)
    assert r.status_code == 400 and "6000x6000" in r.json()["error"]

    # Expired and too large: forms signed by the server's own secret with a past expiry / a small limit.
    now = datetime.now(UTC)
    expired = server_policy(live_server).fields(fields["key"], "image/png", now - timedelta(minutes=5))
    r = post_form(reserved, png, fields=expired)
    assert r.status_code == 403 and "expired" in r.json()["error"]
    small = server_policy(live_server, max_bytes=100).fields(fields["key"], "image/png", now)
    r = post_form(reserved, png, fields=small)
    assert r.status_code == 400 and "EntityTooLarge" in r.json()["error"]

    r = httpx.post(reserved["url"], data=fields)  # no file part
    assert r.status_code == 400 and "file" in r.json()["error"]
    assert file_count(live_server) == before
    assert post_form(reserved, png).status_code == 204  # the reservation itself is still good
    assert file_count(live_server) == before + 1
    assert post_form(reserved, png).status_code == 400  # but only once


def test_extension_mistakes_teach(client: httpx.Client) -> None:
    for bad, words in [
        ("photo.png", "file name"),
        ("gif", "not supported"),
        (base64.b64encode(encode(picture(), "PNG")).decode(), "image data"),
        (None, "png"),
    ]:
        r = client.post("/init-image", json={"extension": bad})
        assert r.status_code == 400, r.text
        body = r.json()
        assert "invalid file extension" in body["error"] and words in body["error"]
        assert body["path"] == "$.extension"


def test_file_posted_straight_to_init_image_explains_two_steps(client: httpx.Client) -> None:
    r = client.post("/init-image", files={"file": ("a.png", encode(picture(), "PNG"), "image/png")})
    assert r.status_code == 400
    assert "two steps" in r.json()["error"] and r.headers["content-type"].startswith("application/json")


def test_init_image_ids_are_private_and_kinds_are_explained(live_server: LiveServer, client: httpx.Client) -> None:
    image_id = upload(client, picture())
    other = live_server.client("snooper")
    assert other.get(f"/init-image/{image_id}").status_code == 404
    assert other.delete(f"/init-image/{image_id}").status_code == 404
    assert client.get(f"/init-image/{image_id}").status_code == 200
