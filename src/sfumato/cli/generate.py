"""`sfumato generate PROMPT`: a generation through a running server's REST API, as any client makes one, with a
progress bar fed by the server's event stream (GET /generations/{id}/events), then the images written to disk.
The key comes from SFUMATO_API_KEY (or --key), the server from --server (default: this machine's `make run`)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

API = "/api/rest/v1"


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) for each server-sent event in `lines` (comments and keep-alives skipped)."""
    event, data = "message", []
    for line in lines:
        if line == "":
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw.")],
    model: Annotated[str | None, typer.Option(help="Model id (default: the server's default model).")] = None,
    out: Annotated[Path, typer.Option(help="Folder the images are written to.")] = Path("."),
    width: Annotated[int, typer.Option()] = 512,
    height: Annotated[int, typer.Option()] = 512,
    num_images: Annotated[int, typer.Option()] = 1,
    seed: Annotated[int | None, typer.Option()] = None,
    server: Annotated[str, typer.Option(help="The server's base URL.")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(help="API key (default: $SFUMATO_API_KEY).", show_default=False)] = None,
) -> None:
    """Generate images on a running server and show the job's progress."""
    key = key or os.environ.get("SFUMATO_API_KEY")
    if not key:
        _fail("no API key: set SFUMATO_API_KEY or pass --key (create one with `sfumato keys create USER NAME`)")
    body: dict[str, Any] = {"prompt": prompt, "width": width, "height": height, "num_images": num_images}
    if model:
        body["modelId"] = model
    if seed is not None:
        body["seed"] = seed
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.rstrip("/") + API, headers=headers, timeout=30) as client:
        try:
            r = client.post("/generations", json=body)
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {server}: {exc}")
        if r.status_code != 200:
            is_json = r.headers.get("content-type", "").startswith("application/json")
            _fail(r.json().get("error", r.text) if is_json else r.text)
        generation_id = r.json()["sdGenerationJob"]["generationId"]
        typer.echo(f"generation {generation_id}")
        status = "PENDING"
        with (
            client.stream("GET", f"/generations/{generation_id}/events", timeout=None) as events,
            typer.progressbar(length=1, label="PENDING") as bar,
        ):
            for event, data in sse_events(events.iter_lines()):
                if event == "progress":
                    bar.length = data["steps"]
                    bar.label = f"step {data['step']} of {data['steps']}"
                    bar.update(data["step"] - bar.pos)
                elif event == "status":
                    status = data["status"]
                    bar.label = status
        generation = client.get(f"/generations/{generation_id}").json()["generations_by_pk"]
        if status != "COMPLETE":
            _fail(f"the generation is {status}: {generation.get('failureReason') or 'no reason given'}")
        out.mkdir(parents=True, exist_ok=True)
        for n, image in enumerate(generation["generated_images"]):
            url = image.get("motionMP4URL") or image["url"]
            path = out / f"{generation_id}-{n}{Path(url.split('?')[0]).suffix or '.png'}"
            path.write_bytes(httpx.get(url, timeout=60).content)
            typer.echo(str(path))
