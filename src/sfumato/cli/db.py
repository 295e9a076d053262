"""`sfumato db ...`: the database of record."""

from __future__ import annotations

import typer

from sfumato.cli.common import container

db_app = typer.Typer(help="The database of record.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the server also does this when it starts)."""
    container()  # building the container migrates the database to the latest schema
    typer.echo("database is at the latest schema")
