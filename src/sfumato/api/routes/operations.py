"""Probes and metrics for operators (docs/operations.md), outside the Leonardo API and its spec, without auth:
`/healthz` (the process answers), `/readyz` (database, storage, broker and the default model: 503 until all are
ready) and `/metrics` (Prometheus)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sfumato.api.deps import ServicesDep
from sfumato.services.operations import Operations

router = APIRouter(include_in_schema=False)


def _operations(s: ServicesDep) -> Operations:
    return s.operations


OperationsDep = Annotated[Operations, Depends(_operations)]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(operations: OperationsDep) -> JSONResponse:
    checks = operations.readiness()
    ready = all(c.ok for c in checks)
    body: dict[str, Any] = {
        "status": "ready" if ready else "not ready",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 4)} for c in checks},
    }
    return JSONResponse(body, status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
