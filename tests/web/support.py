"""Helpers of the web app's browser tests: users with passwords made through the CLI, signing in with a
browser or with a cookie-holding HTTP client (CSRF token and all)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page

from sfumato.services.accounts import Accounts
from sfumato.services.limits import MemoryCounter, RateLimiter
from sfumato.services.web_logins import WebLogins
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.testing.live_server import LiveServer

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "correct horse battery"


def sfumato(server: LiveServer, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sfumato.cli", *args], env=server.env, input=stdin, capture_output=True, text=True
    )


def new_user(server: LiveServer, password: str = PASSWORD, cli: bool = False) -> dict[str, Any]:
    """A user with a password: {"name", "user_id", "api_key", "key_id"}. With `cli`, made as the README says
    (`sfumato users create NAME --password`, piped); else by the same two service calls that command makes, in
    this process, on the server's database (a CLI process costs seconds of imports on a loaded machine)."""
    name = f"u{uuid.uuid4().hex[:8]}"
    if cli:
        done = sfumato(server, "users", "create", name, "--password", "--json", stdin=password + "\n")
        assert done.returncode == 0, done.stderr
        return {"name": name, **json.loads(done.stdout)}
    data = Path(server.env["SFUMATO_DATA_DIR"])
    db = Database(f"sqlite:///{data / 'sfumato.db'}")
    try:
        user_id, key = Accounts(db, LocalFileStore(data / "files")).create_user(name)
        WebLogins(db, RateLimiter(MemoryCounter(), per_minute=2000, jobs_per_minute=100)).set_password(name, password)
    finally:
        db.dispose()
    return {"name": name, "user_id": user_id, "api_key": key.secret, "key_id": key.info.id}


def sign_in(page: Page, server: LiveServer, name: str, password: str = PASSWORD) -> None:
    page.goto(server.base_url + "/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@contextmanager
def http_sign_in(server: LiveServer, name: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """A cookie-holding client signed in through the form (CSRF token and all), as a browser would be."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = post_login(client, name, password)
        assert response.status_code == 303, response.text
        yield client


def form_token(html: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def post_login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = form_token(client.get("/app/login").text)
    fields = {"csrftoken": token, "username": name, "password": password}
    return client.post("/app/login", files={k: (None, v) for k, v in fields.items()})


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (axe-playwright-python bundles
    axe-core: nothing is downloaded)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
