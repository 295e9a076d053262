"""/docs served from this server's own files: Swagger UI 5.36.0 (Apache-2.0, vendored from swagger-ui-dist), so
the page works offline and no request leaves the machine. ReDoc (CDN-only in FastAPI) is switched off."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_STATIC = Path(__file__).parent / "docs_static"
_PREFIX = "/docs-static"


def install_local_docs(app: FastAPI) -> None:
    """/docs and its OAuth2 redirect, with every asset under /docs-static. The app must be built with
    docs_url=None and redoc_url=None, or FastAPI's CDN page would be served first."""
    app.mount(_PREFIX, StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def _docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{_PREFIX}/swagger-ui-bundle.js",
            swagger_css_url=f"{_PREFIX}/swagger-ui.css",
            swagger_favicon_url=f"{_PREFIX}/favicon-32x32.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def _oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
