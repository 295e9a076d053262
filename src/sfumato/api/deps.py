"""Typed dependencies: one per service a route may use, the calling user, and the base URL of links. Routes
declare exactly what they use; the composition root (bootstrap) provides the services as `app.state.services`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ParamSpec, Protocol, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from sfumato.services.accounts import Accounts, Principal
from sfumato.services.catalog import Catalog
from sfumato.services.cdn import CdnFiles
from sfumato.services.credits import Credits
from sfumato.services.generations import Generations
from sfumato.services.job_stream import JobStream
from sfumato.services.motion import Motion
from sfumato.services.operations import Operations
from sfumato.services.prompt_tools import PromptTools
from sfumato.services.realtime import Realtime
from sfumato.services.three_d import ModelAssets, Textures
from sfumato.services.training.datasets import Datasets
from sfumato.services.training.elements_catalog import PlatformElements
from sfumato.services.training.trainings import Trainings
from sfumato.services.uploads import InitImages
from sfumato.services.urls import FileUrls
from sfumato.services.variations import Variations
from sfumato.settings import Settings


class ApiServices(Protocol):
    """What the HTTP layer uses (bootstrap's Container has it all, and more)."""

    settings: Settings
    accounts: Accounts
    catalog: Catalog
    generations: Generations
    motion: Motion
    variations: Variations
    init_images: InitImages
    datasets: Datasets
    trainings: Trainings
    platform_elements: PlatformElements
    urls: FileUrls
    cdn: CdnFiles
    operations: Operations
    started_at: datetime
    realtime: Realtime
    prompt_tools: PromptTools
    job_stream: JobStream
    credits: Credits | None
    model_assets: ModelAssets | None
    textures: Textures | None

    @property
    def reads_inline(self) -> bool: ...


async def services(request: Request) -> ApiServices:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[ApiServices, Depends(services)]


async def _accounts(s: ServicesDep) -> Accounts:
    return s.accounts


async def _catalog(s: ServicesDep) -> Catalog:
    return s.catalog


async def _generations(s: ServicesDep) -> Generations:
    return s.generations


async def _motion(s: ServicesDep) -> Motion:
    return s.motion


async def _variations(s: ServicesDep) -> Variations:
    return s.variations


async def _init_images(s: ServicesDep) -> InitImages:
    return s.init_images


async def _datasets(s: ServicesDep) -> Datasets:
    return s.datasets


async def _trainings(s: ServicesDep) -> Trainings:
    return s.trainings


async def _platform_elements(s: ServicesDep) -> PlatformElements:
    return s.platform_elements


async def _urls(s: ServicesDep) -> FileUrls:
    return s.urls


async def _cdn(s: ServicesDep) -> CdnFiles:
    return s.cdn


async def _realtime(s: ServicesDep) -> Realtime:
    return s.realtime


async def _prompt_tools(s: ServicesDep) -> PromptTools:
    return s.prompt_tools


async def _started_at(s: ServicesDep) -> datetime:
    return s.started_at


AccountsDep = Annotated[Accounts, Depends(_accounts)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
GenerationsDep = Annotated[Generations, Depends(_generations)]
VariationsDep = Annotated[Variations, Depends(_variations)]
MotionDep = Annotated[Motion, Depends(_motion)]
InitImagesDep = Annotated[InitImages, Depends(_init_images)]
DatasetsDep = Annotated[Datasets, Depends(_datasets)]
TrainingsDep = Annotated[Trainings, Depends(_trainings)]
PlatformElementsDep = Annotated[PlatformElements, Depends(_platform_elements)]
UrlsDep = Annotated[FileUrls, Depends(_urls)]
CdnDep = Annotated[CdnFiles, Depends(_cdn)]
StartedAtDep = Annotated[datetime, Depends(_started_at)]
RealtimeDep = Annotated[Realtime, Depends(_realtime)]
PromptToolsDep = Annotated[PromptTools, Depends(_prompt_tools)]


async def _credits(s: ServicesDep) -> Credits:
    assert s.credits is not None, "the composition root builds the credits"
    return s.credits


CreditsDep = Annotated[Credits, Depends(_credits)]


async def _model_assets(s: ServicesDep) -> ModelAssets:
    assert s.model_assets is not None, "the composition root builds the 3D services"
    return s.model_assets


async def _textures(s: ServicesDep) -> Textures:
    assert s.textures is not None, "the composition root builds the 3D services"
    return s.textures


ModelAssetsDep = Annotated[ModelAssets, Depends(_model_assets)]
TexturesDep = Annotated[Textures, Depends(_textures)]


P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Reads:
    """Runs a short read-only service call for an async route. On a local SQLite file it runs on the event loop:
    the read takes microseconds, while a worker thread cost a hop each way and, worse, GIL hand-offs (every sqlite3
    call releases the GIL and may then wait out another thread's 5 ms switch interval to get it back): under wrk
    that was most of a polled GET's time and all of its p99. Reads that wait on a network (PostgreSQL) run on the
    thread pool. Writes never come here."""

    inline: bool

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            return fn(*args, **kwargs)
        return await run_in_threadpool(fn, *args, **kwargs)


_INLINE, _THREADED = Reads(inline=True), Reads(inline=False)


def reads_for(s: ApiServices) -> Reads:
    return _INLINE if s.reads_inline else _THREADED


async def principal(request: Request, s: ServicesDep) -> Principal:
    # Services straight from ServicesDep, not AccountsDep and ReadsDep: every request solves this, and each
    # FastAPI dependency costs tens of microseconds (profiled: 16 solves were most of a polled GET's Python time).
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    # Python's SDK sends "Bearer KEY"; some scripts send the bare key.
    secret = token.strip() if scheme.lower() == "bearer" else header.strip()
    found = await reads_for(s)(s.accounts.identify, secret)
    if found.stale:  # a write (once a minute per key): on the thread pool, never on the loop
        await run_in_threadpool(s.accounts.mark_used, found.principal.api_key_id)
    return found.principal


PrincipalDep = Annotated[Principal, Depends(principal)]


def link_base(request: Request, s: ApiServices) -> str:
    """Where links in responses point: SFUMATO_PUBLIC_URL, else the request's own base."""
    return (s.settings.public_url or str(request.base_url)).rstrip("/")


async def base_url(request: Request, s: ServicesDep) -> str:
    return link_base(request, s)


BaseUrlDep = Annotated[str, Depends(base_url)]
