"""The web app under /app: server-rendered pages (Jinja2, plain CSS) that call the same services as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from markdown_it import MarkdownIt

from sfumato.web import studio
from sfumato.web.routes import router

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI, api_values: str = "") -> None:
    """Add the pages, their static files and `/` → `/app` to the app that serves the API. `api_values`: the
    common API values as Markdown (docs/api-values.md's text, which the composing caller renders from the code:
    web/ may not import api/)."""
    body = api_values.split("\n", 1)[1] if api_values.startswith("# ") else api_values  # the page has its own h1
    app.state.web_api_values = MarkdownIt("commonmark").enable("table").render(body)
    app.include_router(router)
    app.include_router(studio.router)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="web-static")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=307)
