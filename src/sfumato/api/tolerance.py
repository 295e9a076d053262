"""Accept requests the way public scripts really send them, before routing sees them:
doubled or trailing slashes in the path, and JSON bodies with no or a wrong Content-Type."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

_SLASHES = re.compile(r"/{2,}")
_BODY_METHODS = {"POST", "PUT", "PATCH"}
_KEEP_CONTENT_TYPES = (b"multipart/form-data", b"application/json")


class TolerantRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # In place, as Starlette's router does: the outer middleware (metrics) reads the matched route back.
            path = _SLASHES.sub("/", scope["path"])
            if len(path) > 1:
                path = path.rstrip("/")
            if path != scope["path"]:
                scope["path"] = path
                scope["raw_path"] = path.encode()
            if scope["method"] in _BODY_METHODS:
                headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
                content_type = next((v for k, v in scope["headers"] if k.lower() == b"content-type"), b"")
                # Anything that is not a form upload is read as JSON (text/plain, none, form-urlencoded...).
                if not content_type.lower().startswith(_KEEP_CONTENT_TYPES):
                    content_type = b"application/json"
                scope["headers"] = [*headers, (b"content-type", content_type)]
        await self.app(scope, receive, send)
