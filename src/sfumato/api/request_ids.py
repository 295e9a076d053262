"""Request ids: every HTTP request gets one (a caller's sane `X-Request-Id` is kept, else a new one). It is sent
back in the `X-Request-Id` header and in error bodies (`requestId`), and every log line written while the
request is handled carries it, so a user's error report leads straight to the server's log lines."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")  # what we echo into headers and logs, nothing else
current_request_id: ContextVar[str] = ContextVar("request_id", default="-")


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == HEADER.encode()), "")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER.encode(), request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request), for the log format's %(request_id)s."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def install_log_filter() -> None:
    """Every handler of the root logger stamps records with the request id."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdLogFilter) for f in handler.filters):
            handler.addFilter(RequestIdLogFilter())
