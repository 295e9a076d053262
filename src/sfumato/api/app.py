"""The FastAPI app factory: the Leonardo-compatible API under /api/rest/v1, image files under /cdn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from sfumato import __version__
from sfumato.api.deps import ApiServices
from sfumato.api.docs_assets import install_local_docs
from sfumato.api.errors import install_error_handlers
from sfumato.api.metrics import HttpMetrics, JobCollector
from sfumato.api.openapi import install_truthful_openapi
from sfumato.api.rate_limit import RateLimit
from sfumato.api.rendered import RenderedGenerations
from sfumato.api.request_ids import RequestIds
from sfumato.api.routes import (
    accounts,
    blueprints,
    events,
    files,
    generations,
    init_images,
    models_3d,
    motion,
    operations,
    pricing,
    prompts,
    realtime,
    textures,
    training,
    variations,
)
from sfumato.api.schemas.common import TolerantBody
from sfumato.api.tolerance import TolerantRequests

API_PREFIX = "/api/rest/v1"


class Lifecycle(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class ServedContainer(ApiServices, Lifecycle, Protocol):
    """The services the routes use, and the workers the app starts and stops with it (the embedded default)."""


def create_app(container: ServedContainer, start_worker: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_worker:
            container.start()
        yield
        if start_worker:
            container.stop()

    app = FastAPI(
        title="Sfumato",
        version=__version__,
        description="Self-hosted image generation, wire-compatible with the Leonardo.Ai REST API (v1).",
        lifespan=lifespan,
        servers=[{"url": "/"}],
        docs_url=None,  # served from local files below, not a CDN
        redoc_url=None,
    )
    app.state.services = container
    # Pollers' responses rendered once per revision; off where file URLs expire (presigned object storage).
    app.state.rendered = RenderedGenerations.for_urls(container.urls)
    install_error_handlers(app)
    install_truthful_openapi(app, API_PREFIX, _subclasses(TolerantBody))
    install_local_docs(app)
    app.include_router(accounts.router, prefix=API_PREFIX)
    app.include_router(generations.router, prefix=API_PREFIX)
    app.include_router(events.router, prefix=API_PREFIX)
    app.include_router(init_images.router, prefix=API_PREFIX)
    app.include_router(variations.router, prefix=API_PREFIX)
    app.include_router(motion.router, prefix=API_PREFIX)
    app.include_router(training.router, prefix=API_PREFIX)
    app.include_router(realtime.router, prefix=API_PREFIX)
    app.include_router(prompts.router, prefix=API_PREFIX)
    app.include_router(pricing.router, prefix=API_PREFIX)
    app.include_router(models_3d.router, prefix=API_PREFIX)
    app.include_router(textures.router, prefix=API_PREFIX)
    app.include_router(blueprints.router, prefix=API_PREFIX)
    app.include_router(files.router)
    app.include_router(init_images.files_router)
    app.include_router(variations.files_router)
    app.include_router(motion.files_router)
    app.include_router(training.files_router)
    app.include_router(models_3d.files_router)
    app.include_router(textures.files_router)
    app.include_router(operations.router)
    app.add_middleware(TolerantRequests)
    if container.rate_limiter is not None:  # a limited request costs no parsing
        app.add_middleware(RateLimit, limiter=container.rate_limiter)
    # Outermost: every answer, a rate-limited one included, is counted and carries its request id.
    registry = CollectorRegistry()
    registry.register(JobCollector(container.operations))
    app.state.metrics_registry = registry
    app.add_middleware(HttpMetrics, registry=registry)
    app.add_middleware(RequestIds)
    return app


def _subclasses(cls: type[TolerantBody]) -> list[type[TolerantBody]]:
    """Every request body model (they all derive from TolerantBody), so none is left out of the spec's fixes."""
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out
