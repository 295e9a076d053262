"""What every command group shares: the container, the error handler and the `--json` flag with its printer."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from sfumato.bootstrap import Container, build
from sfumato.services.errors import SfumatoError
from sfumato.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def container(settings: Settings | None = None) -> Container:
    """The one composition root, built from the SFUMATO_* environment unless `settings` is given."""
    return build(settings or Settings())


def fails_cleanly(command: Callable[P, R]) -> Callable[P, R]:
    """A SfumatoError (a user's mistake, with advice) becomes `error: ...` on stderr and exit code 1, never a
    traceback. functools.wraps keeps the signature, which Typer reads for the options."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SfumatoError as exc:
            typer.secho(f"error: {exc.message}", fg="red", err=True)
            raise typer.Exit(code=1) from None

    return wrapper


def emit(as_json: bool, data: dict[str, Any] | list[Any], text: str) -> None:
    """`data` as JSON (an object on one line, a list indented) with --json, else `text` for people."""
    if as_json:
        typer.echo(json.dumps(data, indent=None if isinstance(data, dict) else 2))
    else:
        typer.echo(text)
