"""`sfumato models ...`: the platform model catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly

models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List the platform models and their ids."""
    rows = [
        {
            "id": e.id,
            "name": e.name,
            "path": str(e.path),
            "sd_version": e.sd_version,
            "available": (e.path / "model_index.json").is_file(),
        }
        for e in container().catalog.entries()
    ]
    text = "\n".join(f"{r['id']}  {r['name']}  {r['path']}{'' if r['available'] else '  (missing)'}" for r in rows)
    emit(as_json, rows, text)


@models_app.command("add")
@fails_cleanly
def models_add(
    folder: Annotated[Path, typer.Argument(help="A diffusers model folder on local disk.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    model_id: Annotated[str | None, typer.Option("--id", help="UUID to use (default: a new one).")] = None,
    description: Annotated[str, typer.Option(help="Shown in /platformModels.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register an operator's model as a platform model."""
    entry = container().catalog.add(folder, name, model_id, description)
    row = {"id": entry.id, "name": entry.name, "path": str(entry.path)}
    emit(as_json, row, f"model {entry.name} registered with id {entry.id}")
