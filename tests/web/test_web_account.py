"""The Account page in the browser: change password (the current one checked; every other session signed out,
this one kept) and Delete account confirmed by typing the username (then the API key gets 401, sign-in fails
and the user's rows are gone)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from sfumato.testing.live_server import LiveServer
from tests.web.support import DOCS, PASSWORD, http_sign_in, new_user, post_login, sign_in


@pytest.fixture
def server(plain_server: LiveServer) -> LiveServer:
    return plain_server


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    yield context.new_page()
    context.close()


def test_change_password_then_delete_the_account(server: LiveServer, page: Page) -> None:
    user = new_user(server)
    with http_sign_in(server, user["name"]) as elsewhere:
        sign_in(page, server, user["name"])
        page.get_by_role("link", name="Account").click()
        page.get_by_label("Current password").fill("not my password")
        page.get_by_label("New password").fill("a brand new password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("alert")).to_contain_text("The current password is wrong")
        assert elsewhere.get("/app/models").status_code == 200  # nothing changed yet

        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password").fill("a brand new password")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("status")).to_contain_text("Password changed")
        assert elsewhere.get("/app/models").headers.get("location") == "/app/login"
    page.screenshot(path=str(DOCS / "webapp-account.png"), full_page=True)

    page.get_by_label("Type your username to confirm").fill("someone else")
    page.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was deleted")
    key = {"Authorization": f"Bearer {user['api_key']}"}
    assert httpx.get(server.api_url + "/me", headers=key).status_code == 200

    page.get_by_label("Type your username to confirm").fill(user["name"])
    page.get_by_role("button", name="Delete account").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert httpx.get(server.api_url + "/me", headers=key).status_code == 401
    with httpx.Client(base_url=server.base_url) as fresh:
        assert post_login(fresh, user["name"], "a brand new password").status_code == 401
