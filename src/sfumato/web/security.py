"""The web app's session cookie and CSRF defences: an Origin / Sec-Fetch-Site gate on every unsafe request (Go
1.25's CrossOriginProtection rule) plus a synchronizer token in every form. The REST API never reads this
cookie: it is bearer-only, so it has no CSRF surface."""

from __future__ import annotations

import hmac
import secrets
from typing import Protocol
from urllib.parse import urlsplit

from fastapi import Request, Response

from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.generations import Generations
from sfumato.services.jobs import Jobs
from sfumato.services.training.datasets import Datasets
from sfumato.services.training.trainings import Trainings
from sfumato.services.uploads import InitImages
from sfumato.services.urls import FileUrls
from sfumato.services.variations import Variations
from sfumato.services.web_logins import SESSION_LIFETIME, WebLogins, WebUser
from sfumato.services.webhooks import Webhooks
from sfumato.settings import Settings
from sfumato.store.database import Database
from sfumato.store.files import FileStore

SESSION_COOKIE = "sfumato_session"
LOGIN_CSRF_COOKIE = "sfumato_login_csrf"  # the sign-in form has no session yet: a double-submit token
CSRF_FIELD = "csrftoken"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class WebServices(Protocol):
    """What the pages use (bootstrap's Container has it all)."""

    settings: Settings
    accounts: Accounts
    catalog: Catalog
    trainings: Trainings
    datasets: Datasets  # a custom model's sample picture
    jobs: Jobs
    web_logins: WebLogins
    generations: Generations
    variations: Variations
    init_images: InitImages
    urls: FileUrls
    files: FileStore
    db: Database
    webhooks: Webhooks


def services(request: Request) -> WebServices:
    container: WebServices = request.app.state.services
    return container


def signed_in(request: Request) -> WebUser | None:
    return services(request).web_logins.session_user(request.cookies.get(SESSION_COOKIE))


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_is_https(request),  # a plain-HTTP LAN install could not sign in with Secure set
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_is_https(request))


def login_csrf_token(request: Request) -> str:
    """The sign-in form's token: the one already in the browser's cookie, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def remember_login_csrf(request: Request, response: Response, token: str) -> None:
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/app", httponly=True, samesite="lax", secure=_is_https(request))


def same_origin(request: Request) -> bool:
    """Whether an unsafe request comes from this site's own pages (the Go 1.25 rule)."""
    if request.method in _SAFE_METHODS:
        return True
    origin = request.headers.get("origin")
    trusted = services(request).settings.public_url
    if origin and trusted and _origin_of(origin) == _origin_of(trusted):
        return True
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    if not origin:
        return True  # neither header: not a browser (curl, scripts), which carries no cookie by accident
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def token_matches(expected: str | None, sent: object) -> bool:
    return bool(expected) and isinstance(sent, str) and hmac.compare_digest(str(expected), sent)
