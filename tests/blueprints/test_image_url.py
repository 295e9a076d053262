"""imageUrl inputs are fetched only where a webhook could be sent (jobs/webhook_safety.py's rules, with the
operator's allow list): a private or metadata address, a redirect to one, or something that is not an image is a
400 naming the node and the field; an allowed URL is fetched, kept as the user's init image and restyled."""

from __future__ import annotations

import pytest

from sfumato.testing.live_server import LiveServer
from tests.blueprints.support import RESTYLE_V1, wait_execution


def restyle(server: LiveServer, url: str, user: str = "bp-alice") -> tuple[int, dict]:
    answer = server.client(user).post(
        "/blueprint-executions",
        json={
            "blueprintVersionId": RESTYLE_V1,
            "input": {"nodeInputs": [{"nodeId": "image", "settingName": "imageUrl", "value": url}], "public": False},
        },
    )
    return answer.status_code, answer.json()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://192.168.1.10/picture.png", "192.168.1.10, a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://[::1]:9/picture.png", "a loopback address"),  # only 127.0.0.1 is on the allow list
        ("file:///etc/passwd", "is not an http(s) URL"),
    ],
)
def test_a_private_address_is_refused(bp_server: LiveServer, url: str, why: str) -> None:
    status, body = restyle(bp_server, url)
    assert status == 400, body
    assert body["error"].startswith("node 'image', imageUrl ") and why in body["error"], body["error"]


def test_a_redirect_to_a_private_address_is_refused(bp_server: LiveServer, image_host: str) -> None:
    status, body = restyle(bp_server, f"{image_host}/to-private")
    assert status == 400 and "10.1.2.3, a private address" in body["error"], body


def test_what_is_not_an_image_is_refused(bp_server: LiveServer, image_host: str) -> None:
    status, body = restyle(bp_server, f"{image_host}/page.html")
    assert status == 400 and "'text/html', not an image" in body["error"], body
    status, body = restyle(bp_server, f"{image_host}/missing.png")
    assert status == 400 and "HTTP 404" in body["error"], body


def test_an_allowed_url_is_fetched_kept_as_an_init_image_and_restyled(bp_server: LiveServer, image_host: str) -> None:
    status, body = restyle(bp_server, f"{image_host}/red.png")
    assert status == 200, body
    client = bp_server.client("bp-alice")
    ex = wait_execution(client, body["executeBlueprint"]["akUUID"])
    assert ex["status"] == "COMPLETED", ex
    assert ex["inputs"] == [{"nodeId": "image", "settingName": "imageUrl", "value": f"{image_host}/red.png"}]
    [edge] = client.get(f"/blueprint-executions/{ex['akUUID']}/generations").json()["blueprintExecutionGenerations"][
        "edges"
    ]
    gen = client.get(f"/generations/{edge['node']['generationId']}").json()["generations_by_pk"]
    assert gen["status"] == "COMPLETE" and gen["initStrength"] == 0.5
    source, restyled = ex["steps"]
    assert (source["nodeId"], source["outputKind"]) == ("image", "init_image")
    assert restyled["generationId"] == gen["id"] and restyled["outputId"] == gen["generated_images"][0]["id"]
    init_id = source["outputId"]
    init = client.get(f"/init-image/{init_id}").json()["init_images_by_pk"]
    assert init["id"] == init_id and init["url"].endswith(".png")
