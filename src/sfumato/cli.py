"""The `sfumato` command. Every command that prints something a script needs takes --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sfumato.bootstrap import Container, build
from sfumato.services.errors import SfumatoError
from sfumato.settings import Settings

app = typer.Typer(help="Sfumato: self-hosted, Leonardo-compatible image generation.", no_args_is_help=True)
users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Production API keys.", no_args_is_help=True)
models_app = typer.Typer(help="The model catalog.", no_args_is_help=True)
db_app = typer.Typer(help="The database of record.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _container() -> Container:
    return build(Settings())


def _fail(exc: SfumatoError) -> None:
    typer.secho(f"error: {exc.message}", fg="red", err=True)
    raise typer.Exit(code=1)


def _emit(as_json: bool, data: dict | list, text: str) -> None:
    typer.echo(json.dumps(data, indent=None if isinstance(data, dict) else 2) if as_json else text)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (SFUMATO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (SFUMATO_PORT).")] = None,
) -> None:
    """Run the API server with the in-process worker (the embedded default)."""
    import uvicorn

    from sfumato.api.app import create_app

    settings = Settings()
    # The flags win over the environment everywhere, also in absolute URLs built outside a request.
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    application = create_app(build(settings))
    uvicorn.run(application, host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level.lower())  # fmt: skip


@users_app.command("create")
def users_create(name: str, as_json: JsonFlag = False) -> None:
    """Create a user and print its id and a first API key (shown once)."""
    try:
        user_id, key = _container().accounts.create_user(name)
    except SfumatoError as exc:
        _fail(exc)
        return
    _emit(as_json, {"user_id": user_id, "api_key": key.secret, "key_id": key.info.id},
          f"user {name} created\nuser id: {user_id}\nAPI key (shown once): {key.secret}")  # fmt: skip


@users_app.command("delete")
def users_delete(name: str, as_json: JsonFlag = False) -> None:
    """Delete a user with every row and file they own, for good."""
    try:
        user_id = _container().accounts.delete_user(name)
    except SfumatoError as exc:
        _fail(exc)
        return
    _emit(as_json, {"deleted_user_id": user_id}, f"user {name} ({user_id}) and all their data deleted")


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="The user's name.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    webhook_url: Annotated[
        str | None, typer.Option("--webhook-url", help="http(s) URL POSTed to when a job finishes.")
    ] = None,
    webhook_key: Annotated[
        str | None, typer.Option("--webhook-key", help="Sent as `authorization: Bearer KEY` with each webhook.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a production API key (shown once); with --webhook-url, also its webhook signing secret."""
    try:
        key = _container().accounts.create_key(user, name=name, webhook_url=webhook_url, webhook_key=webhook_key)
    except SfumatoError as exc:
        _fail(exc)
        return
    text = f"key id: {key.info.id}\nAPI key (shown once): {key.secret}"
    if key.signing_secret:
        text += f"\nwebhook signing secret (shown once): {key.signing_secret}"
    _emit(as_json, {"key_id": key.info.id, "api_key": key.secret, "signing_secret": key.signing_secret}, text)


@keys_app.command("list")
def keys_list(user: Annotated[str, typer.Option("--user")], as_json: JsonFlag = False) -> None:
    """List a user's keys (ids and hints; secrets are never stored)."""
    try:
        keys = _container().accounts.list_keys(user)
    except SfumatoError as exc:
        _fail(exc)
        return
    rows = [{"key_id": k.id, "name": k.name, "hint": k.hint, "created_at": k.created_at.isoformat(),
             "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None} for k in keys]  # fmt: skip
    text = "\n".join(f"{r['key_id']}  {r['hint']}  {r['name']}" for r in rows) or "no keys"
    _emit(as_json, rows, text)


@keys_app.command("revoke")
def keys_revoke(key_id: str, as_json: JsonFlag = False) -> None:
    """Revoke a key: it stops working at once."""
    try:
        _container().accounts.revoke_key(key_id)
    except SfumatoError as exc:
        _fail(exc)
        return
    _emit(as_json, {"revoked_key_id": key_id}, f"key {key_id} revoked")


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List the platform models and their ids."""
    entries = _container().catalog.entries()
    rows = [{"id": e.id, "name": e.name, "path": str(e.path), "sd_version": e.sd_version,
             "available": (e.path / "model_index.json").is_file()} for e in entries]  # fmt: skip
    text = "\n".join(f"{r['id']}  {r['name']}  {r['path']}{'' if r['available'] else '  (missing)'}" for r in rows)
    _emit(as_json, rows, text)


@models_app.command("add")
def models_add(
    folder: Annotated[Path, typer.Argument(help="A diffusers model folder on local disk.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    model_id: Annotated[str | None, typer.Option("--id", help="UUID to use (default: a new one).")] = None,
    description: Annotated[str, typer.Option(help="Shown in /platformModels.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Register an operator's model as a platform model."""
    try:
        entry = _container().catalog.add(folder, name, model_id, description)
    except SfumatoError as exc:
        _fail(exc)
        return
    _emit(as_json, {"id": entry.id, "name": entry.name, "path": str(entry.path)},
          f"model {entry.name} registered with id {entry.id}")  # fmt: skip


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the server also does this when it starts)."""
    build(Settings())
    typer.echo("database is at the latest schema")


def _mount_webhooks_app() -> None:
    # Imported here: the sub-app module imports this one for its helpers.
    from sfumato.webhooks_cli import webhooks_app

    app.add_typer(webhooks_app, name="webhooks")


_mount_webhooks_app()


def _mount_scaleout_commands() -> None:
    # worker, reaper, status, users set (docs/deployment.md).
    from sfumato.worker_cli import register

    register(app, users_app)


_mount_scaleout_commands()


def _mount_optional_apps() -> None:
    try:
        from sfumato.starter.cli import starter_app
    except ImportError:
        return
    app.add_typer(starter_app, name="starter", help="Train and evaluate the bundled starter model.")


_mount_optional_apps()

if __name__ == "__main__":
    app()
