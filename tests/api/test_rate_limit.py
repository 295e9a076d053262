"""Per-key rate limits: the general one on every request, the jobs one on every POST that starts a job, each a
429 with Leonardo's error body and Retry-After; requests without a key go through (the route answers 401)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sfumato.api.rate_limit import API_PREFIX, JOB_PATHS, RateLimit
from sfumato.services.limits import MemoryCounter, RateLimiter
from sfumato.testing.live_server import LiveServer

# POSTs that answer at once (or upload, or manage), held only by the general limit. A new POST operation must be
# put here or in JOB_PATHS: test_every_post_operation_is_classified fails until it is.
NOT_JOBS = {
    "/init-image",
    "/canvas-init-image",
    "/generations-lcm",
    "/lcm-instant-refine",
    "/lcm-inpainting",
    "/lcm-upscale",
    "/prompt/random",
    "/prompt/improve",
    "/pricing-calculator",
    "/datasets",
    "/datasets/{datasetId}/upload",
    "/datasets/{datasetId}/upload/gen",
    "/models-3d/upload",
}


def _client(per_minute: int, jobs_per_minute: int) -> TestClient:
    async def ok(request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "POST"])])
    return TestClient(RateLimit(app, RateLimiter(MemoryCounter(), per_minute, jobs_per_minute)))


def test_job_posts_share_the_jobs_limit_and_other_requests_do_not() -> None:
    client = _client(per_minute=100, jobs_per_minute=3)
    key = {"Authorization": "Bearer key-a"}
    for path in ("/generations", "/blueprint-executions", "/generations-texture"):
        assert client.post(API_PREFIX + path, headers=key).status_code == 200
    refused = client.post(API_PREFIX + "/generations-motion-svd", headers=key)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    body = refused.json()
    assert body["code"] == "rate-limited" and "at most 3 job requests" in body["error"]
    # Reads, synchronous POSTs and another key are not held by the jobs limit.
    assert client.get(API_PREFIX + "/generations/x", headers=key).status_code == 200
    assert client.post(API_PREFIX + "/generations-lcm", headers=key).status_code == 200
    assert client.post(API_PREFIX + "/generations", headers={"Authorization": "Bearer key-b"}).status_code == 200


def test_the_general_limit_holds_every_request_and_no_key_goes_through() -> None:
    client = _client(per_minute=2, jobs_per_minute=100)
    key = {"Authorization": "Bearer key-a"}
    assert [client.get(API_PREFIX + "/me", headers=key).status_code for _ in range(3)] == [200, 200, 429]
    assert "at most 2 requests per minute" in client.get(API_PREFIX + "/me", headers=key).json()["error"]
    assert client.get(API_PREFIX + "/me").status_code == 200  # no key: the route itself answers 401
    assert client.get("/openapi.json", headers=key).status_code == 200  # outside the API


def test_every_post_operation_is_classified(live_server: LiveServer) -> None:
    spec = httpx.get(live_server.base_url + "/openapi.json").json()
    posts = {
        p.removeprefix(API_PREFIX) for p, ops in spec["paths"].items() if p.startswith(API_PREFIX) and "post" in ops
    }
    unclassified = posts - JOB_PATHS - NOT_JOBS
    assert not unclassified, f"put each in JOB_PATHS (api/rate_limit.py) or NOT_JOBS here: {sorted(unclassified)}"
    assert not (JOB_PATHS - posts), "JOB_PATHS names a path the API does not serve"
