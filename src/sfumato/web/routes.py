"""The pages. Thin: each reads the form, calls a service (the same ones the API calls) and renders a template.
Forms are multipart: the API's tolerance middleware reads any other body as JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from sfumato.services.catalog import SAMPLE_TYPES
from sfumato.services.errors import Busy, SfumatoError
from sfumato.services.user_webhooks import UserWebhooks
from sfumato.services.web_logins import WebUser
from sfumato.web.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    clear_session_cookie,
    login_csrf_token,
    remember_login_csrf,
    same_origin,
    services,
    set_session_cookie,
    signed_in,
    token_matches,
)

log = logging.getLogger(__name__)
router = APIRouter(prefix="/app", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

_REFUSED = "This form was refused because it did not come from this site's own page; reload the page and try again."
# No inline scripts, nothing from elsewhere: what the pages need is served from /app/static. Images and videos
# may also come from the object storage's origin (and only that one), which serves them itself.
_CSP = "default-src 'self'; img-src 'self' data:{media}; media-src 'self'{media}; frame-ancestors 'none'; " \
    "form-action 'self'"  # fmt: skip
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages may show a new key's secret once
}


def storage_origin(request: Request) -> str | None:
    """The origin the file store's URLs point at (the bucket's endpoint, or its CDN / public base), read off a
    URL the store really makes, so it is right for every addressing style; None on local disk (/cdn is ours)."""
    app_state = request.app.state
    if not hasattr(app_state, "web_storage_origin"):
        direct = services(request).urls.direct
        origin = None
        if direct is not None:
            try:
                parts = urlsplit(direct("csp-probe.png"))  # signing is local: no request is made
            except Exception:  # e.g. no S3 credentials: the pages stay up, without images from the bucket
                log.exception("the file store made no URL; the pages' CSP allows no storage origin")
                return None
            origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None
        app_state.web_storage_origin = origin
    found: str | None = app_state.web_storage_origin
    return found


def security_headers(request: Request) -> dict[str, str]:
    origin = storage_origin(request)
    return {"Content-Security-Policy": _CSP.format(media=f" {origin}" if origin else ""), **_HEADERS}


def page(request: Request, name: str, user: WebUser | None, status: int = 200, **extra: Any) -> HTMLResponse:
    context: dict[str, Any] = {
        "user": user,
        "csrf_field": CSRF_FIELD,
        "csrf_token": user.csrf_token if user else "",
        "signup_open": services(request).settings.signup == "open",
    }
    context.update(extra)
    headers = security_headers(request)
    return templates.TemplateResponse(request, name, context, status_code=status, headers=headers)


def to_login() -> RedirectResponse:
    return RedirectResponse("/app/login", status_code=303)


async def form_fields(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


async def checked_form(request: Request, user: WebUser) -> dict[str, str] | None:
    """The form's fields, or None when it fails the CSRF checks (origin gate and the session's token)."""
    form = await form_fields(request)
    if not same_origin(request) or not token_matches(user.csrf_token, form.get(CSRF_FIELD)):
        return None
    return form


def refused(request: Request, user: WebUser | None) -> HTMLResponse:
    return page(request, "refused.html", user, status=403, title="Form refused", message=_REFUSED)


async def signed_in_post(request: Request) -> tuple[WebUser, dict[str, str]] | Response:
    """The gate of every signed-in form: (user, fields), or the answer to send instead (to sign-in when there
    is no session, 403 when the form fails the CSRF checks)."""
    user = signed_in(request)
    if user is None:
        return to_login()
    form = await checked_form(request, user)
    return refused(request, user) if form is None else (user, form)


def client_address(request: Request) -> str:
    """Who is asking, for login throttling."""
    return request.client.host if request.client else "unknown"


@router.get("")
def home(request: Request) -> Response:
    return RedirectResponse("/app/generate" if signed_in(request) else "/app/login", status_code=303)


def _credentials_form(
    request: Request, name: str, username: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = login_csrf_token(request)
    title = "Log in" if name == "login.html" else "Sign up"
    response = page(request, name, None, status, title=title, username=username, error=error, csrf_token=token)
    remember_login_csrf(request, response, token)
    return response


@router.get("/login")
def login_page(request: Request) -> Response:
    if signed_in(request):
        return RedirectResponse("/app", status_code=303)
    return _credentials_form(request, "login.html")


@router.post("/login")
async def login(request: Request) -> Response:
    form = await form_fields(request)
    username = form.get("username", "")
    if not same_origin(request) or not token_matches(request.cookies.get(LOGIN_CSRF_COOKIE), form.get(CSRF_FIELD)):
        return _credentials_form(request, "login.html", username, _REFUSED, 403)
    client = client_address(request)
    try:
        new = services(request).web_logins.login(username, form.get("password", ""), client)
    except Busy as exc:
        throttled = _credentials_form(request, "login.html", username, exc.message, 429)
        throttled.headers["Retry-After"] = "300"
        return throttled
    except SfumatoError as exc:
        return _credentials_form(request, "login.html", username, exc.message, 401)
    services(request).web_logins.logout(request.cookies.get(SESSION_COOKIE))  # rotated: the old one goes
    response = RedirectResponse("/app", status_code=303)
    set_session_cookie(request, response, new.token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    services(request).web_logins.logout(request.cookies.get(SESSION_COOKIE))
    response = to_login()
    clear_session_cookie(request, response)
    return response


@router.get("/signup")
def signup_page(request: Request) -> Response:
    if services(request).settings.signup != "open":
        return page(request, "refused.html", None, 404, title="Sign-up closed", message=_SIGNUP_CLOSED)
    return _credentials_form(request, "signup.html")


_SIGNUP_CLOSED = "Sign-up is closed on this server; ask its administrator for an account (sfumato users create)."


@router.post("/signup")
async def signup(request: Request) -> Response:
    s = services(request)
    if s.settings.signup != "open":
        return page(request, "refused.html", None, 404, title="Sign-up closed", message=_SIGNUP_CLOSED)
    form = await form_fields(request)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    if not same_origin(request) or not token_matches(request.cookies.get(LOGIN_CSRF_COOKIE), form.get(CSRF_FIELD)):
        return _credentials_form(request, "signup.html", username, _REFUSED, 403)
    try:
        s.web_logins.check_new_password(password)
        s.accounts.create_user(username)
        s.web_logins.set_password(username, password)
        new = s.web_logins.login(username, password, client_address(request))
    except SfumatoError as exc:
        return _credentials_form(request, "signup.html", username, exc.message, 400)
    response = RedirectResponse("/app", status_code=303)
    set_session_cookie(request, response, new.token)
    return response


@router.get("/models")
def models_page(request: Request, tab: str = "platform") -> Response:
    user = signed_in(request)
    if user is None:
        return to_login()
    s = services(request)
    yours = tab == "yours"
    custom = s.trainings.list_models(user.user_id) if yours else []
    elements = s.trainings.list_elements(user.user_id) if yours else []
    return page(
        request,
        "models.html",
        user,
        title="Your Models" if yours else "Platform Models",
        tab="yours" if yours else "platform",
        platform=s.catalog.image_models(),
        custom=custom,
        elements=elements,
        samples={m.id: _training_sample(request, user, m.dataset_id) for m in custom + elements},
    )


def _training_sample(request: Request, user: WebUser, dataset_id: str) -> str | None:
    """A custom model's (or element's) sample: the first picture it was trained on, while its dataset lasts."""
    s = services(request)
    try:
        images = s.datasets.get(user.user_id, dataset_id).images
    except SfumatoError:
        return None  # the dataset was deleted after the training: the weights stay, the pictures went
    if not images:
        return None
    i = images[0]
    return s.urls.dataset_image("", i.id, i.token, i.extension, i.file_key)


@router.get("/models/{model_id}/sample")
def model_sample(request: Request, model_id: str) -> Response:
    """A platform model's sample image, made by the model itself (every signed-in user's, as the list is)."""
    if signed_in(request) is None:
        return Response(status_code=401)
    entry = next((e for e in services(request).catalog.image_models() if e.id == model_id), None)
    if entry is None or entry.sample is None:
        return Response("no sample image for this model", status_code=404, media_type="text/plain")
    media_type = SAMPLE_TYPES[entry.sample.suffix.lower()]
    return FileResponse(entry.sample, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.post("/trainings/{training_id}/cancel")
async def cancel_training(request: Request, training_id: str) -> Response:
    """Stops one of the user's trainings: at once when queued, at its next step (with a checkpoint) when running."""
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, _ = gate
    s = services(request)
    try:
        s.jobs.cancel(s.trainings.owned(user.user_id, training_id).id)
    except SfumatoError as exc:
        return page(request, "refused.html", user, 404, title="Not found", message=exc.message)
    return RedirectResponse("/app/models?tab=yours", status_code=303)


def _user_webhooks(request: Request) -> UserWebhooks:
    s = services(request)
    return UserWebhooks(s.db, s.webhooks)


def _api_access(request: Request, user: WebUser, status: int = 200, **extra: Any) -> HTMLResponse:
    accounts = services(request).accounts
    keys = accounts.list_keys(user.username)
    context: dict[str, Any] = {"form": {}, "error": None, "new_key": None, "redelivered": None}
    context.update(extra)
    deliveries = _user_webhooks(request).list_for_user(user.user_id)
    return page(
        request, "api_access.html", user, status, title="API Access", keys=keys, max_keys=accounts.max_keys,
        deliveries=deliveries, **context,
    )  # fmt: skip


_KEYS_CHANGED = (
    "Your keys changed since this page was shown (was this form sent twice?), so no key was made; "
    "check the list below, then create the key again if you still need it."
)


@router.get("/api-access")
def api_access_page(request: Request) -> Response:
    user = signed_in(request)
    return to_login() if user is None else _api_access(request, user)


@router.post("/api-access/keys")
async def create_key(request: Request) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    # The form carries how many keys the page listed: a reload that posts it again finds one more and is
    # refused, instead of making a second key.
    shown = form.get("key_count")
    if shown is not None and shown != str(len(services(request).accounts.list_keys(user.username))):
        return _api_access(request, user, 409, form=form, error=_KEYS_CHANGED)
    try:
        new = services(request).accounts.create_key(
            user.username,
            name=form.get("name", "").strip(),
            webhook_url=form.get("webhook_url", "").strip() or None,
            webhook_key=form.get("webhook_key", "").strip() or None,
        )
    except SfumatoError as exc:
        return _api_access(request, user, 400, form=form, error=exc.message)
    # Answered here, not redirected: the secret is shown in this one response and never again.
    return _api_access(request, user, 201, new_key=new)


@router.post("/api-access/keys/{key_id}/delete")
async def delete_key(request: Request, key_id: str) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, _ = gate
    try:
        services(request).accounts.revoke_own_key(user.username, key_id)
    except SfumatoError as exc:
        return _api_access(request, user, 404, error=exc.message)
    return RedirectResponse("/app/api-access", status_code=303)


@router.post("/api-access/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, delivery_id: str) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, _ = gate
    try:
        info = _user_webhooks(request).redeliver(user.user_id, delivery_id)
    except SfumatoError as exc:
        return _api_access(request, user, 404, error=exc.message)
    return _api_access(request, user, redelivered=info)


@router.get("/account")
def account_page(request: Request) -> Response:
    user = signed_in(request)
    return to_login() if user is None else page(request, "account.html", user, title="Account", nav="account")


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    client = client_address(request)
    try:
        new = services(request).web_logins.change_password(
            user.username, form.get("current_password", ""), form.get("new_password", ""), client
        )
    except SfumatoError as exc:
        status = 429 if isinstance(exc, Busy) else 400
        return page(request, "account.html", user, status, title="Account", nav="account", password_error=exc.message)
    # Every other session is gone; this browser continues on a fresh one (with a fresh CSRF token).
    response = page(request, "account.html", new.user, title="Account", nav="account", password_changed=True)
    set_session_cookie(request, response, new.token)
    return response


@router.post("/account/delete")
async def delete_account(request: Request) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    if form.get("confirm_username", "").strip() != user.username:
        message = f"Type your username ({user.username}) to confirm; nothing was deleted."
        return page(request, "account.html", user, 400, title="Account", nav="account", delete_error=message)
    services(request).accounts.delete_user(user.username)  # rows (sessions and keys included) and files
    response = RedirectResponse("/app/login", status_code=303)
    clear_session_cookie(request, response)
    return response
