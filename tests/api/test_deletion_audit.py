"""Deletion audit, by enumeration rather than a hand-kept list: after a user owns one of everything (tests/api/
resources.py) and a webhook was queued for them, deleting the account leaves no value anywhere in the database
(every table, every column) that names the user, their keys or anything they made, and no file whose path
names them; whether the account is deleted with the CLI or with the web app's "Delete account" (in Chromium, after
a generation made with the web form). Deleting one generation does the same for it. A new table or store folder
is scanned without any edit here."""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.browser import chromium
from sfumato.testing.live_server import LiveServer, cli_json, free_port, wait_for_generation
from tests.api.resources import Resources
from tests.motion.support import motion_server
from tests.web.support import PASSWORD, sfumato, sign_in
from tests.webhooks.support import FAST_WEBHOOKS, webhook_key

TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000503d"


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("deletion")
    svd = build_tiny_svd(root / "tiny-svd", follows_prompts=True)
    quick = {**FAST_WEBHOOKS, "SFUMATO_TRAINING_STEPS_SCALE": "0.1"}  # its trainings take seconds
    with motion_server(root, tiny_catalog, svd, TINY_SVD_ID, "Tiny SVD", quick) as live:
        yield live


def database_hits(server: LiveServer, needles: set[str]) -> dict[str, int]:
    """table -> rows with a value containing any needle, over every table and column of the schema."""
    hits: dict[str, int] = {}
    with sqlite3.connect(Path(server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert len(tables) >= 10, tables  # the scan really sees the schema
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (names from sqlite_master)
                text = " ".join(str(v) for v in row if v is not None)
                if any(n in text for n in needles):
                    hits[table] = hits.get(table, 0) + 1
    return hits


def file_hits(server: LiveServer, needles: set[str]) -> list[str]:
    """Paths under the data folder (file store, uploads, anything) that name a needle."""
    root = Path(server.env["SFUMATO_DATA_DIR"])
    out = []
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = str(Path(folder, name).relative_to(root))
            if any(n in path for n in needles):
                out.append(path)
    return out


def traces(server: LiveServer, owned: Resources, *clients: httpx.Client) -> set[str]:
    """Every id that names the user or something of theirs: user, keys, resources, images of generations."""
    user = server.user(owned.owner)
    # An element's id is a small integer ("3" is in every table): its rows are found by the user id they carry.
    ids = {user["user_id"], user["key_id"], *(v for v in owned._made.values() if not v.isdigit())}
    for client in clients:
        for generation in client.get(f"/generations/user/{user['user_id']}", params={"limit": 50}).json()[
            "generations"
        ]:
            ids.add(generation["id"])
            ids.update(image["id"] for image in generation["generated_images"])
    return ids


def _web_user_deletes_the_account(server: LiveServer, name: str) -> None:
    """In Chromium: sign in, make a generation with the Generate form (an init image uploaded through it, so the
    web's own rows and files are there too), then Account -> "Delete account", confirmed by typing the name."""
    done = sfumato(server, "users", "password", name, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    init = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 160, 40)).save(init, "PNG")
    with chromium() as browser:
        page = browser.new_page()
        sign_in(page, server, name)
        page.get_by_label("Prompt", exact=True).fill("made in the web app")
        page.get_by_label("Width").fill("64")
        page.get_by_label("Height").fill("64")
        page.get_by_label("Init image (PNG, JPEG or WebP)").set_input_files(
            files=[{"name": "start.png", "mimeType": "image/png", "buffer": init.getvalue()}]
        )
        page.get_by_role("button", name="Generate").click()
        card = page.locator("article.gen", has_text="made in the web app")
        expect(card.get_by_role("status").first).to_have_text("COMPLETE", timeout=90_000)
        web_generation = str(card.get_attribute("id")).removeprefix("generation-")
        assert len(file_hits(server, {web_generation})) == 1
        # The scan sees what only the web app makes: the session, and the upload and generation with no key.
        user_id = server.user(name)["user_id"]
        assert {"web_sessions", "init_images", "generations"} <= set(database_hits(server, {user_id}))
        page.get_by_role("link", name="Account").click()
        page.get_by_label("Type your username to confirm").fill(name)
        page.get_by_role("button", name="Delete account").click()
        expect(page.get_by_role("button", name="Log in")).to_be_visible()


@pytest.mark.parametrize("how", ["cli", "web"])
def test_deleting_an_account_leaves_nothing_of_it(server: LiveServer, how: str) -> None:
    owned = Resources(server, f"doomed-{how}")
    server.user(owned.owner)
    cli_json(server.env, "users", "set", owned.owner, "--credits", "100000")  # a balance, and a ledger of charges
    for kind in owned.makers:
        owned.get(kind)
    hook = webhook_key(server, owned.owner, f"http://127.0.0.1:{free_port()}/nobody-listens")
    hooked = httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {hook['api_key']}"})
    answer = hooked.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64})
    assert wait_for_generation(hooked, answer.json()["sdGenerationJob"]["generationId"])["status"] == "COMPLETE"
    bystander = server.client("bystander")
    kept = bystander.post("/generations", json={"prompt": "a blue square", "width": 64, "height": 64}).json()
    kept_id = kept["sdGenerationJob"]["generationId"]
    assert wait_for_generation(bystander, kept_id)["status"] == "COMPLETE"

    needles = traces(server, owned, owned.client) | {hook["key_id"]}
    before = database_hits(server, needles)
    # The scan sees the user everywhere they are: their row, keys, jobs, images, uploads, events, webhooks.
    tables = ("users", "api_keys", "generations", "generated_images", "init_images", "job_events")
    tables += ("credit_balances", "credit_charges")
    trained = ("datasets", "dataset_images", "trainings", "element_numbers")
    trained += ("model_assets", "texture_generations")
    tables += ("blueprint_executions", "blueprint_steps")
    for table in tables + trained:
        assert before.get(table), (table, before)
    assert any(t.startswith("webhook") for t in before), before
    files = file_hits(server, needles)
    for folder in ("/datasets/", "/trainings/", "/generations/", "/initImages/"):
        assert any(folder in path for path in files), (folder, files)  # the file scan sees every kind of file

    if how == "cli":
        cli_json(server.env, "users", "delete", owned.owner)
    else:
        _web_user_deletes_the_account(server, owned.owner)  # its rows all carry the user id: in `needles`
    assert database_hits(server, needles) == {}
    assert file_hits(server, needles) == []
    assert wait_for_generation(bystander, kept_id)["status"] == "COMPLETE"  # nobody else's data went


def test_deleting_a_generation_leaves_nothing_of_it(server: LiveServer) -> None:
    owned = Resources(server, "tidy")
    for kind in ("generation", "variation", "motion_variation"):
        owned.get(kind)
    generation_id = owned.get("generation")
    images = owned.client.get(f"/generations/{generation_id}").json()["generations_by_pk"]["generated_images"]
    needles = {generation_id, *(i["id"] for i in images), owned.get("variation")}
    motion_id = owned.get("motion_generation")
    motion = owned.client.get(f"/generations/{motion_id}").json()["generations_by_pk"]["generated_images"]
    motion_needles = {motion_id, *(i["id"] for i in motion), owned.get("motion_variation")}
    assert database_hits(server, needles) and file_hits(server, needles)
    for some_id in (motion_id, generation_id):
        assert owned.client.delete(f"/generations/{some_id}").status_code == 200
    # The motion generation's source image was the deleted generation's: both go, and their variations.
    assert database_hits(server, needles | motion_needles) == {}
    assert file_hits(server, needles | motion_needles) == []
    assert owned.client.get("/me").status_code == 200  # the user is still there
