"""GET /generations/{id}/events: a server-sent-events stream of one generation's job. Not in Leonardo's API
(its SDKs never call it, so nothing they see changes); clients that want progress instead of polling read it.

    event: status    data: {"status": "PENDING"}              at the start and on every change
    event: progress  data: {"step": i, "steps": n, "preview": "data:image/png;base64,..."}   (preview when the
                     job wrote one)
    ...ends after the final status (COMPLETE or FAILED, as GET /generations/{id} says it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from sfumato.api.deps import PrincipalDep, ServicesDep
from sfumato.jobs.core.status import wire_status
from sfumato.services.errors import NotFound
from sfumato.services.job_stream import JobStream, StreamRead

router = APIRouter(tags=["Image"])

# How often the stream looks for new events (one indexed query each time) when nothing woke it: events this
# process commits wake it at once; those of Celery workers in other processes are found by this poll.
POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 15.0  # a comment line, so proxies do not close a quiet stream


def _stream(s: ServicesDep) -> JobStream:
    return s.job_stream


JobStreamDep = Annotated[JobStream, Depends(_stream)]


def sse(event: str, data: dict[str, object]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _frames(read: StreamRead, last_status: str | None) -> list[str]:
    frames = []
    for p in read.progress:
        data: dict[str, object] = {"step": p.step, "steps": p.steps}
        if p.preview_png:
            data["preview"] = "data:image/png;base64," + base64.b64encode(p.preview_png).decode()
        frames.append(sse("progress", data))
    status = wire_status(read.status)
    if status != last_status:
        frames.append(sse("status", {"status": status}))
    return frames


@router.get(
    "/generations/{id}/events",
    summary="A live stream of a generation's status and progress (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
)
async def generation_events(
    id: str, request: Request, principal: PrincipalDep, stream: JobStreamDep
) -> StreamingResponse:
    first = await run_in_threadpool(stream.read, principal.user_id, id)  # a 404 before the stream starts
    # A client that joins late sees where the job is now, not its history: the latest step, or only the end.
    first = dataclasses.replace(first, progress=() if first.final else first.progress[-1:])

    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    async def frames() -> AsyncIterator[str]:
        read, last_status, quiet_since = first, None, time.monotonic()
        unsubscribe = stream.subscribe(id, lambda: loop.call_soon_threadsafe(woken.set))
        try:
            async for frame in follow(read, last_status, quiet_since):
                yield frame
        finally:
            unsubscribe()

    async def follow(read: StreamRead, last_status: str | None, quiet_since: float) -> AsyncIterator[str]:
        while True:
            out = _frames(read, last_status)
            for frame in out:
                yield frame
            if out:
                quiet_since = time.monotonic()
            last_status = wire_status(read.status)
            if read.final or await request.is_disconnected():
                return
            if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), POLL_SECONDS)
            woken.clear()
            try:
                read = await run_in_threadpool(stream.read, principal.user_id, id, read.last_seq)
            except NotFound:  # deleted while the client watched
                yield sse("status", {"status": "FAILED", "reason": "the generation was deleted"})
                return

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx: pass each frame at once
    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)
