"""API Access in the browser: create a key with a webhook (its secret and signing secret shown once, then only
the hint; a reload posting the form again makes no second key), the key works on the API, "n of 10" and the
11th key's message, Delete (the key gets 401 at once), and a user cannot delete another user's key."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from sfumato.testing.live_server import LiveServer
from tests.web.support import DOCS, form_token, http_sign_in, new_user, sign_in


@pytest.fixture
def server(plain_server: LiveServer) -> LiveServer:
    return plain_server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    yield context.new_page()
    context.close()


def _me(server: LiveServer, key: str) -> int:
    return httpx.get(server.api_url + "/me", headers={"Authorization": f"Bearer {key}"}).status_code


def test_create_a_key_with_a_webhook_use_it_and_delete_it(server: LiveServer, page: Page) -> None:
    user = new_user(server)
    sign_in(page, server, user["name"])
    page.get_by_role("link", name="API Access").click()
    expect(page.get_by_text("1 of 10")).to_be_visible()  # the key `users create` printed
    page.get_by_label("Name", exact=True).fill("myapp-prod")
    page.get_by_label("Webhook callback URL (optional)").fill("https://example.com/hooks/leonardo")
    page.get_by_label("Webhook callback key (optional)").fill("hook-secret")
    page.get_by_role("button", name="Create New Key").click()
    expect(page.get_by_text("2 of 10")).to_be_visible()
    secret = page.get_by_label("API key", exact=True).input_value()
    assert page.get_by_label("Webhook signing secret").input_value().startswith("whsec_")
    row = page.get_by_role("row", name="myapp-prod")
    expect(row).to_contain_text("https://example.com/hooks/leonardo")
    expect(row).to_contain_text(secret[:4] + "…" + secret[-4:])
    page.screenshot(path=str(DOCS / "webapp-api-access.png"), full_page=True)
    assert _me(server, secret) == 200

    page.reload()  # the browser posts the form again: refused, no second key
    expect(page.get_by_role("alert")).to_contain_text("no key was made")
    expect(page.get_by_text("2 of 10")).to_be_visible()
    # Shown once: a later view has only the hint, and when the key was last used.
    page.goto(server.base_url + "/app/api-access")
    expect(page.get_by_role("row", name="myapp-prod")).not_to_contain_text("never")
    expect(page.get_by_label("API key", exact=True)).to_have_count(0)
    assert secret not in page.content()
    page.get_by_role("button", name="Delete key myapp-prod").click()
    expect(page.get_by_text("1 of 10")).to_be_visible()
    expect(page.get_by_role("row", name="myapp-prod")).to_have_count(0)
    assert _me(server, secret) == 401


def test_the_eleventh_key_is_refused_with_the_clis_message_keeping_the_form(server: LiveServer) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as web:
        for n in range(9):
            token = form_token(web.get("/app/api-access").text)
            made = web.post("/app/api-access/keys", files={"csrftoken": (None, token), "name": (None, f"k{n}")})
            assert made.status_code == 201, made.text
        token = form_token(web.get("/app/api-access").text)
        refused = web.post("/app/api-access/keys", files={"csrftoken": (None, token), "name": (None, "eleventh")})
        assert refused.status_code == 400
        message = f"user {user['name']!r} already has 10 API keys, the most allowed is 10"
        assert message in html.unescape(refused.text)
        assert 'value="eleventh"' in refused.text and "10 of 10" in refused.text


def test_a_user_cannot_delete_another_users_key(server: LiveServer) -> None:
    owner, other = new_user(server), new_user(server)
    with http_sign_in(server, other["name"]) as web:
        token = form_token(web.get("/app/api-access").text)
        answer = web.post(f"/app/api-access/keys/{owner['key_id']}/delete", files={"csrftoken": (None, token)})
        assert answer.status_code == 404
    assert _me(server, owner["api_key"]) == 200
