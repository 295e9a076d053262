"""Per-key request rate limits (Leonardo's documented defaults: 2000 requests a minute per key, 100 a minute
on the POSTs that start a job: generations, variations, motion, trainings, textures, blueprint runs),
answered with Leonardo's 429 error body. The key is the bearer token's hash, so the check needs no database
query; counters live in Redis when SFUMATO_REDIS_URL is set, so every API host counts together."""

from __future__ import annotations

import hashlib
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from sfumato.services.limits import RateLimiter

log = logging.getLogger(__name__)

API_PREFIX = "/api/rest/v1"
# Every POST that queues a job (the realtime canvas and prompt tools answer at once: the general limit holds them).
JOB_PATHS = frozenset(
    {
        "/generations",
        "/variations/upscale",
        "/variations/unzoom",
        "/variations/nobg",
        "/variations/universal-upscaler",
        "/generations-motion-svd",
        "/generations-text-to-video",
        "/generations-image-to-video",
        "/generations-video-upscale",
        "/models",
        "/elements",
        "/generations-texture",
        "/blueprint-executions",
    }
)


class RateLimit:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").strip()
        if not header:  # no key: the route answers 401
            await self.app(scope, receive, send)
            return
        token = header.split(b" ", 1)[-1].strip()
        key_id = hashlib.sha256(token).hexdigest()[:32]
        is_job = scope.get("method") == "POST" and path.removeprefix(API_PREFIX).rstrip("/") in JOB_PATHS
        try:
            message = self.limiter.check(key_id, is_job)
        except Exception:  # a Redis outage must not take the API down: let the request through
            log.exception("rate limit check failed")
            message = None
        if message is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"error": message, "path": "$", "code": "rate-limited"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"retry-after", b"60"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
