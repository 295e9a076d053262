"""The web app under /app: server-rendered pages (Jinja2, plain CSS) that call the same services as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from sfumato.web.routes import router

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the pages, their static files and `/` → `/app` to the app that serves the API."""
    app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="web-static")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=307)
