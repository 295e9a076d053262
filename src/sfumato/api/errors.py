"""Leonardo's error body `{"error": message, "path": "$...", "code": code}` for every failure."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sfumato.api.request_ids import current_request_id
from sfumato.services.errors import ErrorKind, SfumatoError

log = logging.getLogger(__name__)

_STATUS = {
    ErrorKind.INVALID: (400, "bad-request"),
    ErrorKind.LIMIT: (400, "bad-request"),
    ErrorKind.NOT_FOUND: (404, "not-found"),
    ErrorKind.UNAUTHORIZED: (401, "access-denied"),
    ErrorKind.BUSY: (429, "rate-limited"),
    ErrorKind.UPSTREAM: (502, "bad-gateway"),
    ErrorKind.CREDITS: (402, "insufficient-credits"),
}
_TYPE_HINTS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a JSON array",
    "dict": "a JSON object",
    "model": "a JSON object",
}


def error_response(
    status: int, message: str, code: str, path: str = "$", headers: dict[str, str] | None = None
) -> JSONResponse:
    # `requestId` is ours, not Leonardo's: it finds the request's lines in the server log.
    return JSONResponse(
        {"error": message, "path": path, "code": code, "requestId": current_request_id.get()},
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def _validation_message(err: dict) -> tuple[str, str]:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc)
    kind = str(err.get("type", ""))
    if kind == "json_invalid":
        return 'the request body is not valid JSON; send a JSON object such as {"prompt": "..."}', "$"
    if kind == "model_attributes_type" or (not field and kind.endswith("_type")):
        return 'the request body must be a JSON object, e.g. {"prompt": "..."}', "$"
    wanted = next((hint for key, hint in _TYPE_HINTS.items() if kind.startswith(key)), None)
    got = err.get("input")
    message = f"invalid value for {field or 'the body'}: {err.get('msg', 'invalid')}"
    if wanted:
        message += f" (got {got!r}); send {wanted}"
    return message, "$." + field if field else "$"


def _allowed_methods(request: Request) -> str:
    """Every method the spec lists for this path (GET and DELETE /generations/{id} are two routes, and
    Starlette's own Allow names only the first); "" for paths outside the spec."""
    paths = request.app.openapi().get("paths", {})
    if request.url.path in paths:  # a static path is its own resource (/variations/nobg, not /variations/{id})
        return ", ".join(sorted(m.upper() for m in paths[request.url.path]))
    methods: set[str] = set()
    for template, ops in paths.items():
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, request.url.path):
            methods |= {m.upper() for m in ops}
    return ", ".join(sorted(methods))


def _log_refusal(request: Request, status: int, message: str) -> None:
    """One line per refused request, stamped with its request id: what a user's error report leads to."""
    log.info("%s %s -> %d: %s", request.method, request.url.path, status, message)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SfumatoError)
    async def _domain(request: Request, exc: SfumatoError) -> JSONResponse:
        status, code = _STATUS[exc.kind]
        _log_refusal(request, status, exc.message)
        return error_response(status, exc.message, code, f"$.{exc.field}" if exc.field else "$")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        message, path = _validation_message(errors[0]) if errors else ("invalid request", "$")
        _log_refusal(request, 400, message)
        return error_response(400, message, "validation-failed", path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
            return error_response(404, message, "not-found")
        if exc.status_code == 405:  # RFC 9110: a 405 names the methods the path does allow
            allow = _allowed_methods(request) or (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allow or 'another method'}"
            return error_response(405, message, "bad-request", headers={"Allow": allow} if allow else None)
        return error_response(exc.status_code, str(exc.detail), "unexpected")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "Service Error", "unexpected")
