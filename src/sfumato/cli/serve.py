"""`sfumato serve`: the API server with the in-process worker (the embedded default)."""

from __future__ import annotations

from typing import Annotated

import typer

from sfumato.cli.common import container
from sfumato.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (SFUMATO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (SFUMATO_PORT).")] = None,
) -> None:
    """Run the API server with the in-process worker (the embedded default)."""
    # Imported here: the other commands need neither uvicorn nor the HTTP layer.
    import uvicorn

    from sfumato.api.app import create_app
    from sfumato.api.docs_assets import api_values_markdown
    from sfumato.web import install_web

    settings = Settings()
    # The flags win over the environment everywhere, also in absolute URLs built outside a request.
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    application = create_app(container(settings))
    # Here, not in create_app: api and web are sibling floors (pyproject.toml).
    install_web(application, api_values_markdown())
    uvicorn.run(application, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
