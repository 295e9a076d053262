"""SFUMATO_SIGNUP=open: the sign-up page makes an account with a password and signs it in; its API key list
starts with the `users create` default key, so the API works for it at once from API Access."""

from __future__ import annotations

import html

import httpx
import pytest

from sfumato.testing.live_server import LiveServer
from tests.web.support import PASSWORD, form_token


@pytest.fixture
def server(plain_server: LiveServer) -> LiveServer:
    return plain_server


def _sign_up(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = form_token(client.get("/app/signup").text)
    fields = {"csrftoken": token, "username": name, "password": password}
    return client.post("/app/signup", files={k: (None, v) for k, v in fields.items()})


def test_open_sign_up_creates_a_signed_in_user_and_refuses_a_taken_name(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url) as client:
        assert "Sign up" in client.get("/app/login").text  # the login page links to it
        short = _sign_up(client, "newcomer", "short")
        assert short.status_code == 400 and "at least 8 characters" in short.text and 'value="newcomer"' in short.text
        made = _sign_up(client, "newcomer", PASSWORD)
        assert made.status_code == 303
        assert "Signed in as <strong>newcomer</strong>" in client.get("/app/models").text
    with httpx.Client(base_url=server.base_url) as again:
        taken = _sign_up(again, "newcomer", PASSWORD)
        assert taken.status_code == 400 and "user 'newcomer' already exists" in html.unescape(taken.text)
