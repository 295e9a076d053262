"""The web app against a real server on loopback, driven by Debian's Chromium (Playwright) where a browser
matters: sign-in, log out, the cookie's flags, CSRF and throttling refusals, sessions gone on a password change
(CLI) and on account deletion, the models page with platform ids and a user's custom model. Screenshots of
each page go to docs/."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, Page, expect

from sfumato.store.database import Database
from sfumato.store.training import ElementNumber, Training
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, LiveServer, free_port, server_env
from tests.web.support import DOCS, PASSWORD, form_token, http_sign_in, new_user, post_login, sfumato, sign_in


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("web-data")
    live = LiveServer(server_env(data, tiny_catalog), free_port(), data / "server.log")
    live.env["SFUMATO_PRELOAD_DEFAULT_MODEL"] = "false"  # no page here generates
    # Training rows are written straight into the database here; no worker must pick them up behind the page.
    live.env["SFUMATO_JOB_SWEEP_SECONDS"] = "3600"
    live.start()
    yield live
    live.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 720})
    yield context.new_page()
    context.close()


def test_sign_in_refuses_a_wrong_password_keeping_the_username_then_lands_on_the_app(
    server: LiveServer, page: Page
) -> None:
    user = new_user(server, cli=True)  # as the README says
    sign_in(page, server, user["name"], "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    expect(page.get_by_label("Username")).to_have_value(user["name"])
    page.get_by_label("Password").fill(PASSWORD)
    page.screenshot(path=str(DOCS / "webapp-signin.png"))
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(server.base_url + "/app/generate")
    expect(page.get_by_text(f"Signed in as {user['name']}")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "sfumato_session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert cookie["secure"] is False  # plain http on loopback; Secure is set when the request is https

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.goto(server.base_url + "/app/models")
    expect(page).to_have_url(server.base_url + "/app/login")
    # The old cookie is dead server-side too, not only removed from the browser.
    stale = httpx.get(server.base_url + "/app/models", cookies={"sfumato_session": cookie["value"]})
    assert stale.status_code == 303 and stale.headers["location"] == "/app/login"


def test_the_rest_api_never_accepts_the_session_cookie(server: LiveServer) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as web:
        assert web.get("/app/models").status_code == 200
        assert web.get("/api/rest/v1/me").status_code == 401
        bearer = {"Authorization": f"Bearer {user['api_key']}"}
        assert web.get("/api/rest/v1/me", headers=bearer).status_code == 200


def test_a_cross_origin_form_post_is_refused(server: LiveServer) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as web:
        token = form_token(web.get("/app/models").text)
        forged = {"csrftoken": (None, token)}
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            refused = web.post("/app/logout", files=forged, headers=headers)
            assert refused.status_code == 403 and "was refused" in refused.text
        # Same origin but no token (a form another site could not read the token for): refused too.
        assert web.post("/app/logout", files={"x": (None, "1")}).status_code == 403
        assert web.get("/app/models").status_code == 200  # still signed in
        cross_login = web.post(
            "/app/login", files={"username": (None, user["name"])}, headers={"Origin": "http://evil.example"}
        )
        assert cross_login.status_code == 403
        assert web.post("/app/logout", files=forged).status_code == 303  # the real form works


def test_sign_in_is_throttled_after_five_attempts(server: LiveServer) -> None:
    user = new_user(server)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        for _ in range(5):
            assert post_login(client, user["name"], "wrong password").status_code == 401
        throttled = post_login(client, user["name"], PASSWORD)  # even the right one, for a while
        assert throttled.status_code == 429 and "Too many sign-in attempts" in throttled.text
        assert throttled.headers["retry-after"]


def test_a_password_change_from_the_cli_signs_the_user_out_everywhere(server: LiveServer) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as web:
        assert web.get("/app/models").status_code == 200
        done = sfumato(server, "users", "password", user["name"], stdin="a new password\n")
        assert done.returncode == 0, done.stderr
        assert web.get("/app/models").headers.get("location") == "/app/login"
    with httpx.Client(base_url=server.base_url) as fresh:
        assert post_login(fresh, user["name"], PASSWORD).status_code == 401
        assert post_login(fresh, user["name"], "a new password").status_code == 303


def test_account_deletion_removes_the_sessions(server: LiveServer) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as web:
        done = sfumato(server, "users", "delete", user["name"])
        assert done.returncode == 0, done.stderr
        assert web.get("/app/models").headers.get("location") == "/app/login"
    db = Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}")
    with db.engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM web_sessions WHERE user_id = ?", (user["user_id"],))
        assert left.scalar() == 0
    db.dispose()


def _add_training(
    server: LiveServer,
    user_id: str,
    target: str = "model",
    running: bool = True,
    name: str = "Jack the dog",
    dataset_id: str | None = None,
) -> str:
    """A training row as POST /models (or /elements) leaves it, running at step 120 of 400 for a minute, or
    queued (the trainer is not what these pages show)."""
    db = Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}")
    row_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with db.session() as s:
        s.add(
            Training(
                id=row_id, user_id=user_id, target=target, name=name, description="my dog, 12 photos",
                dataset_id=dataset_id or str(uuid.uuid4()), image_keys=[], instance_prompt="jackthedog",
                base_model_id=TINY_MODEL_ID, base_model_path="/none", sd_version="v1_5", resolution=512,
                settings={}, status="PENDING", step=120 if running else 0, steps=400 if running else 0,
                started_at=now - timedelta(seconds=60) if running else None, updated_at=now,
                claimed_at=now if running else None, worker="elsewhere" if running else None,
            )
        )  # fmt: skip
        if target == "element":
            s.flush()  # the training row first: the element number refers to it
            s.add(ElementNumber(training_id=row_id, user_id=user_id))
    db.dispose()
    return row_id


def _dataset_with_a_picture(server: LiveServer, api_key: str) -> str:
    """A dataset with one uploaded picture (64x48, an orange disc), through the API as a user makes one."""
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {api_key}"}) as api:
        dataset_id = api.post("/datasets", json={"name": "dog photos"}).json()["insert_datasets_one"]["id"]
        target = api.post(f"/datasets/{dataset_id}/upload", json={"extension": "png"}).json()["uploadDatasetImage"]
    picture = io.BytesIO()
    drawn = Image.new("RGB", (64, 48), (170, 210, 240))
    ImageDraw.Draw(drawn).ellipse((18, 10, 46, 38), fill=(240, 140, 20))
    drawn.save(picture, "PNG")
    sent = httpx.post(target["url"], data=json.loads(target["fields"]), files={"file": ("dog.png", picture.getvalue())})
    assert sent.status_code == 204, sent.text
    return str(dataset_id)


def _natural_width(page: Page, alt: str) -> int:
    image = page.get_by_role("img", name=alt)
    image.scroll_into_view_if_needed()
    page.wait_for_function("i => i.complete", arg=image.element_handle())
    return int(image.evaluate("i => i.naturalWidth"))


def test_the_models_page_lists_platform_ids_samples_and_the_users_custom_models(server: LiveServer, page: Page) -> None:
    user = new_user(server)
    model_id = _add_training(server, user["user_id"], dataset_id=_dataset_with_a_picture(server, user["api_key"]))
    sign_in(page, server, user["name"])
    page.get_by_role("link", name="Models", exact=True).click()
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
    for details in page.locator("details").all():
        details.locator("summary", has_text="View More").click()
    expect(page.get_by_label("Model ID of Tiny SD 1.5")).to_have_value(TINY_MODEL_ID)
    expect(page.get_by_label("Model ID of Tiny SDXL")).to_have_value(TINY_XL_MODEL_ID)
    # The bundled Starter's committed sample (a 2x2 grid it made); the operator's tiny models declare none.
    assert _natural_width(page, "Sample image made by Sfumato Starter") == 256
    expect(page.locator(".card", has_text="Tiny SDXL")).to_contain_text("none yet: the server's operator adds one")
    page.screenshot(path=str(DOCS / "webapp-models.png"), full_page=True)

    page.get_by_role("link", name="Your Models").click()
    expect(page.get_by_text("training, step 120 of 400, about 2.3 min left")).to_be_visible()
    page.locator("summary", has_text="View More").click()
    expect(page.get_by_label("Model ID of Jack the dog")).to_have_value(model_id)
    expect(page.get_by_text("jackthedog")).to_be_visible()
    assert _natural_width(page, "A training image of Jack the dog") == 64  # the first picture of its dataset
    page.screenshot(path=str(DOCS / "webapp-your-models.png"), full_page=True)
    # Another user sees none of it.
    other = new_user(server)
    with http_sign_in(server, other["name"]) as web:
        assert model_id not in web.get("/app/models?tab=yours").text


def test_the_cookie_is_secure_when_the_request_is_https(server: LiveServer) -> None:
    """Behind a TLS proxy on loopback (uvicorn trusts its X-Forwarded-Proto), the cookie gets Secure."""
    user = new_user(server)
    with httpx.Client(base_url=server.base_url) as client:
        # The form is fetched over plain http: httpx, talking http, would not send back a Secure form cookie.
        token = form_token(client.get("/app/login").text)
        fields = {"csrftoken": token, "username": user["name"], "password": PASSWORD}
        files = {k: (None, v) for k, v in fields.items()}
        answer = client.post("/app/login", files=files, headers={"X-Forwarded-Proto": "https"})
        assert answer.status_code == 303, answer.text
        cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and "sfumato_session" in v)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_sign_up_is_closed_by_default_and_a_short_password_creates_no_user(server: LiveServer) -> None:
    closed = httpx.get(server.base_url + "/app/signup")
    assert closed.status_code == 404 and "Sign-up is closed" in closed.text
    # Files on local disk come from our own /cdn: the pages allow no other origin (tests/web/test_web_s3.py: S3).
    csp = closed.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none';"), csp
    refused = sfumato(server, "users", "create", "shorty", "--password", stdin="short\n")
    assert refused.returncode == 1 and "at least 8 characters" in refused.stderr
    assert sfumato(server, "keys", "list", "--user", "shorty").returncode == 1  # no such user
    assert httpx.get(server.base_url + "/", follow_redirects=False).headers["location"] == "/app"


def test_a_training_is_cancelled_from_the_models_page(server: LiveServer, page: Page) -> None:
    """Issue 23: a cancel from the web app (a queued one ends at once; a running one at its next step)."""
    user = new_user(server)
    queued = _add_training(server, user["user_id"], target="element", running=False, name="Rex the cat")
    running = _add_training(server, user["user_id"])
    sign_in(page, server, user["name"])
    page.goto(server.base_url + "/app/models?tab=yours")
    expect(page.get_by_text("queued: waiting for a worker")).to_be_visible()
    page.get_by_role("button", name="Cancel training of Rex the cat").click()
    expect(page.locator(".card", has_text="Rex the cat")).to_contain_text("cancelled")
    expect(page.get_by_role("button", name="Cancel training of Rex the cat")).to_have_count(0)
    with Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}").session() as s:
        assert s.get(Training, queued).status == "CANCELLED"
        left = s.get(Training, running)
        assert left.status == "PENDING" and left.cancel_requested_at is None  # only the one clicked
    page.get_by_role("button", name="Cancel training of Jack the dog").click()
    with Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}").session() as s:
        # Running on a worker: it stops at its next step (with a checkpoint); the request is on the row.
        assert s.get(Training, running).cancel_requested_at is not None
    # Another user's training id is a 404 and changes nothing.
    other = new_user(server)
    mine = _add_training(server, user["user_id"], running=False)
    with http_sign_in(server, other["name"]) as web:
        token = form_token(web.get("/app/models").text)
        refused = web.post(f"/app/trainings/{mine}/cancel", files={"csrftoken": (None, token)})
        assert refused.status_code == 404
    with Database(f"sqlite:///{Path(server.env['SFUMATO_DATA_DIR']) / 'sfumato.db'}").session() as s:
        assert s.get(Training, mine).status == "PENDING"


def test_a_generation_the_balance_cannot_pay_is_refused_with_402_and_the_cost(server: LiveServer) -> None:
    """As the API answers the same refusal (docs/credits.md): 402, the cost and the balance said."""
    user = new_user(server)
    done = sfumato(server, "users", "set", user["name"], "--credits", "0")
    assert done.returncode == 0, done.stderr
    with http_sign_in(server, user["name"]) as web:
        token = form_token(web.get("/app/generate").text)
        fields = {"csrftoken": token, "prompt": "a red kite", "width": "64", "height": "64", "num_images": "1"}
        refused = web.post("/app/generate", files={k: (None, v) for k, v in fields.items()})
    assert refused.status_code == 402, refused.text
    assert "costs" in refused.text and "balance is 0" in refused.text
