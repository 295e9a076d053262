"""Domain errors. Each says what went wrong and what to send instead; the API maps `kind` to a status."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID = "invalid"  # 400: the request is wrong; the message says how to fix it
    NOT_FOUND = "not_found"  # 404: no such thing for this user (also used for other users' things)
    UNAUTHORIZED = "unauthorized"  # 401
    LIMIT = "limit"  # 400: a documented limit (keys per user, images per request)
    BUSY = "busy"  # 429: over a queue or rate limit; try again later
    UPSTREAM = "upstream"  # 502: a third-party service this server relies on failed or is unreachable
    CREDITS = "credits"  # 402: the user's credit balance cannot pay for the job (services/credits/)


class SfumatoError(Exception):
    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The request field at fault ("num_images"), reported as the error's JSON path.
        self.field = field


class InvalidRequest(SfumatoError):
    kind = ErrorKind.INVALID


class NotFound(SfumatoError):
    kind = ErrorKind.NOT_FOUND


class Unauthorized(SfumatoError):
    kind = ErrorKind.UNAUTHORIZED


class LimitExceeded(SfumatoError):
    kind = ErrorKind.LIMIT


class Busy(SfumatoError):
    kind = ErrorKind.BUSY


class UpstreamFailed(SfumatoError):
    kind = ErrorKind.UPSTREAM


class InsufficientCredits(SfumatoError):
    kind = ErrorKind.CREDITS
