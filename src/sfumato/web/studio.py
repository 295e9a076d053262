"""Generate, History, a generation's card (polled while PENDING), variations, delete and Get API Code. Thin: the
form becomes the same GenerationParams as POST /generations, and the same services run it (web-made jobs have
no API key)."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from sfumato.jobs.core.status import JobStatus
from sfumato.services.api_snippets import LANGUAGES, generation_snippets, variation_snippets
from sfumato.services.errors import ErrorKind, InvalidRequest, SfumatoError
from sfumato.services.generations import GenerationView
from sfumato.services.generations.service import SCHEDULERS
from sfumato.services.styles import STYLE_TEMPLATES
from sfumato.services.variations import TRANSFORMS
from sfumato.services.web_logins import WebUser
from sfumato.web.generate_form import form_from_generation, params_from_form
from sfumato.web.routes import page, signed_in_post, to_login
from sfumato.web.security import services, signed_in

router = APIRouter(prefix="/app", include_in_schema=False)
HISTORY_PAGE = 12
RECENT = 4  # generations shown under the Generate form
_INIT_EXTENSIONS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpeg", ".webp": "webp"}


def _status(exc: SfumatoError) -> int:
    """The HTTP status of a refused form, as the API answers the same error."""
    return {ErrorKind.BUSY: 429, ErrorKind.NOT_FOUND: 404, ErrorKind.CREDITS: 402}.get(exc.kind, 400)


def _api_url(request: Request) -> str:
    base = services(request).settings.public_url or str(request.base_url)
    return base.rstrip("/") + "/api/rest/v1"


def cards(request: Request, user: WebUser, views: list[GenerationView]) -> list[dict[str, Any]]:
    """What a card shows: the generation, its images with their variations, where it came from, and whether it
    still changes (then the card polls)."""
    s = services(request)
    key_names = {k.id: k.name or "unnamed key" for k in s.accounts.list_keys(user.username)}
    found = s.variations.for_images(i.id for v in views for i in v.images)
    out = []
    for v in views:
        images: list[dict[str, Any]] = []
        pending = v.status == JobStatus.PENDING
        for i in v.images:
            variations: list[dict[str, Any]] = [
                {"view": x, "url": s.urls.variation("", x.id, x.token, x.file_key or "") if x.has_file else None}
                for x in found.get(i.id, [])
            ]
            pending = pending or any(x["view"].status == JobStatus.PENDING for x in variations)
            images.append({
                "view": i,
                "url": s.urls.image("", i.id, i.token, i.file_key),
                "video": s.urls.video("", i.id, i.token, i.video_key) if i.video_key else None,
                "variations": variations,
            })  # fmt: skip
        source = "web" if v.api_key_id is None else key_names.get(v.api_key_id, "a deleted key")
        out.append({"g": v, "images": images, "pending": pending, "source": source})
    return out


def _generate_page(request: Request, user: WebUser, status: int = 200, **extra: Any) -> HTMLResponse:
    s = services(request)
    recent = s.generations.list_for_user(user.user_id, limit=RECENT)
    context: dict[str, Any] = {"form": {"modelId": s.catalog.default_model_id}, "error": None, "error_field": None}
    context.update(extra)
    return page(
        request, "generate.html", user, status, title="Generate", nav="generate",
        models=s.catalog.image_models(), custom=[m for m in s.trainings.list_models(user.user_id)
                                                  if m.status == JobStatus.COMPLETE],
        schedulers=SCHEDULERS, styles=list(STYLE_TEMPLATES), cards=cards(request, user, recent), **context,
    )  # fmt: skip


@router.get("/generate")
def generate_page(request: Request, again: str | None = None) -> Response:
    user = signed_in(request)
    if user is None:
        return to_login()
    if again:  # "Generate again": the form filled from an earlier generation
        try:
            return _generate_page(
                request, user, form=form_from_generation(services(request).generations.get(user.user_id, again))
            )
        except SfumatoError as exc:
            return _generate_page(request, user, 404, error=exc.message)
    return _generate_page(request, user)


def _upload_init_image(request: Request, user: WebUser, file: UploadFile, data: bytes) -> str:
    extension = _INIT_EXTENSIONS.get(PurePath(file.filename or "").suffix.lower())
    if extension is None:
        raise InvalidRequest(
            f"init image {file.filename!r} is not a PNG, JPEG or WebP file; choose one of those", field="init_image"
        )
    init_images = services(request).init_images
    reservation = init_images.reserve(user.user_id, extension)
    if reservation.url is not None:  # object storage: the file goes to the bucket, checked on first use
        services(request).files.put(reservation.key, data)
        return reservation.id
    try:
        return init_images.receive(reservation.fields, data)
    except SfumatoError as exc:
        init_images.delete(user.user_id, reservation.id)  # no RESERVED row left behind
        raise InvalidRequest(f"init image: {exc.message}", field="init_image") from None


@router.post("/generate")
async def generate(request: Request) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    upload = (await request.form()).get("init_image")
    try:
        init_image_id = None
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read()
            if data:
                init_image_id = _upload_init_image(request, user, upload, data)
        params = params_from_form(form, init_image_id)
        generation_id = services(request).generations.create(user.user_id, None, params)
    except SfumatoError as exc:
        return _generate_page(request, user, _status(exc), form=form, error=exc.message, error_field=exc.field)
    return RedirectResponse(f"/app/generate?again={generation_id}#generation-{generation_id}", status_code=303)


@router.get("/generations/{generation_id}/card")
def generation_card(request: Request, generation_id: str) -> Response:
    """One card, for the polling of a PENDING one: once nothing on it changes, it comes back without the trigger."""
    user = signed_in(request)
    if user is None:
        return Response(status_code=401)
    try:
        view = services(request).generations.get(user.user_id, generation_id)
    except SfumatoError:
        return HTMLResponse('<p class="empty">This generation was deleted.</p>')
    return page(request, "_card.html", user, card=cards(request, user, [view])[0])


@router.get("/history")
def history_page(request: Request, page_number: int = 1) -> Response:
    user = signed_in(request)
    if user is None:
        return to_login()
    number = max(page_number, 1)
    found = services(request).generations.list_for_user(
        user.user_id, offset=(number - 1) * HISTORY_PAGE, limit=HISTORY_PAGE + 1
    )
    return page(
        request, "history.html", user, title="History", nav="history", cards=cards(request, user, found[:HISTORY_PAGE]),
        page_number=number, has_next=len(found) > HISTORY_PAGE,
    )  # fmt: skip


def _back(form: dict[str, str]) -> str:
    """Where a card's form returns to: one of our pages, never an address from elsewhere."""
    target = form.get("back", "")
    return target if target.startswith("/app/") and not target.startswith("//") else "/app/history"


@router.post("/generations/{generation_id}/delete")
async def delete_generation(request: Request, generation_id: str) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    try:
        services(request).generations.delete(user.user_id, generation_id)
    except SfumatoError as exc:
        return page(request, "refused.html", user, 404, title="Not deleted", message=exc.message)
    return RedirectResponse(_back(form), status_code=303)


@router.post("/images/{image_id}/{transform}")
async def create_variation(request: Request, image_id: str, transform: str) -> Response:
    gate = await signed_in_post(request)
    if isinstance(gate, Response):
        return gate
    user, form = gate
    if transform not in TRANSFORMS:
        return page(
            request, "refused.html", user, 404, title="Unknown variation", message=f"No variation {transform!r}."
        )
    try:
        services(request).variations.create(user.user_id, None, transform, image_id)
    except SfumatoError as exc:
        return page(request, "refused.html", user, _status(exc), title="Variation refused", message=exc.message)
    return RedirectResponse(_back(form), status_code=303)


def _code_page(request: Request, user: WebUser, what: str, snippets: list[Any], lang: str, back: str) -> HTMLResponse:
    chosen = next((s for s in snippets if s.language == lang), snippets[0])
    return page(
        request, "api_code.html", user, title=f"Get API Code: {what}", nav="history", what=what,
        snippets=snippets, chosen=chosen, languages=LANGUAGES, back=back,
    )  # fmt: skip


@router.get("/generations/{generation_id}/code")
def generation_code(request: Request, generation_id: str, lang: str = "curl") -> Response:
    user = signed_in(request)
    if user is None:
        return to_login()
    try:
        view = services(request).generations.get(user.user_id, generation_id)
    except SfumatoError as exc:
        return page(request, "refused.html", user, 404, title="Not found", message=exc.message)
    snippets = generation_snippets(view, _api_url(request))
    return _code_page(request, user, f"generation {view.id}", snippets, lang, f"/app/generations/{view.id}/code")


@router.get("/variations/{variation_id}/code")
def variation_code(request: Request, variation_id: str, lang: str = "curl") -> Response:
    user = signed_in(request)
    if user is None:
        return to_login()
    try:
        v = services(request).variations.get(user.user_id, variation_id)[0]
    except SfumatoError as exc:
        return page(request, "refused.html", user, 404, title="Not found", message=exc.message)
    if v.generated_image_id is None:  # its image was deleted: nothing to make it from again
        return page(request, "refused.html", user, 404, title="Not found", message="Its image is gone.")
    snippets = variation_snippets(v.transform_type, v.generated_image_id, _api_url(request))
    return _code_page(request, user, f"variation {v.id}", snippets, lang, f"/app/variations/{v.id}/code")


@router.get("/api-values")
def api_values_page(request: Request) -> Response:
    """The common API values: the installed models with their ids, then docs/api-values.md (from the code)."""
    user = signed_in(request)
    if user is None:
        return to_login()
    s = services(request)
    return page(
        request, "api_values.html", user, title="API values", nav="values", models=s.catalog.image_models(),
        yours=s.trainings.list_models(user.user_id), values_html=request.app.state.web_api_values,
    )  # fmt: skip
