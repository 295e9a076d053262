"""What happens around the jobs: the variation webhook lands in the outbox, deleting a user removes
their uploads and variations."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from sfumato.testing.live_server import LiveServer, cli_json
from tests.images.support import SMALL, generate, picture, upload, wait
from tests.webhooks.support import webhook_key


def test_finished_variation_writes_post_processing_complete(live_server: LiveServer) -> None:
    # The shared server refuses private destinations at delivery time; the outbox row is what we check.
    key = webhook_key(live_server, "hooked", "https://hooks.example.com/leonardo")
    client = httpx.Client(base_url=live_server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
    image = generate(client, {"seed": 4})["generated_images"][0]
    variation_id = client.post("/variations/nobg", json={"id": image["id"]}).json()["sdNobgJob"]["id"]
    done = wait(client, f"/variations/{variation_id}")
    db = Path(live_server.env["SFUMATO_DATA_DIR"]) / "sfumato.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT event_type, payload FROM webhook_deliveries WHERE object_id = ?", (variation_id,)
        ).fetchall()
    assert [r[0] for r in rows] == ["post_processing.complete"]
    body = json.loads(rows[0][1])["data"]["object"]
    assert body["id"] == variation_id and body["transformType"] == "NOBG" and body["transparent"] is True
    assert body["generatedImageId"] == image["id"] and body["status"] == "COMPLETE"
    assert urlsplit(body["url"]).path == urlsplit(done["url"]).path


def test_deleting_a_user_removes_uploads_and_variations(live_server: LiveServer) -> None:
    client = live_server.client("departing")
    init_id = upload(client, picture())
    init_url = client.get(f"/init-image/{init_id}").json()["init_images_by_pk"]["url"]
    gen = generate(client, {"init_image_id": init_id, **SMALL})
    variation_id = client.post("/variations/nobg", json={"id": gen["generated_images"][0]["id"]}).json()
    done = wait(client, f"/variations/{variation_id['sdNobgJob']['id']}")
    urls = [init_url, gen["generated_images"][0]["url"], done["url"]]
    assert all(httpx.get(u).status_code == 200 for u in urls)
    user_id = live_server.user("departing")["user_id"]
    cli_json(live_server.env, "users", "delete", "departing")
    assert all(httpx.get(u).status_code == 404 for u in urls)
    assert not (Path(live_server.env["SFUMATO_DATA_DIR"]) / "files" / "users" / user_id).exists()
