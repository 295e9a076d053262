"""`sfumato webhooks ...`: see and replay webhook deliveries (mounted by cli.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sfumato.bootstrap import build
from sfumato.services.errors import SfumatoError
from sfumato.services.webhooks import DeliveryInfo, Webhooks
from sfumato.settings import Settings

# Self-contained (no import of sfumato.cli): `python -m sfumato.cli` runs that module as __main__, and
# importing it again from here would build a second copy of the app.
webhooks_app = typer.Typer(help="Webhook deliveries: list them, replay one.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _webhooks() -> Webhooks:
    return build(Settings()).webhooks


def _time(value) -> str | None:  # type: ignore[no-untyped-def]
    return value.isoformat() if value else None


def _row(d: DeliveryInfo) -> dict:
    last = d.history[-1] if d.history else None
    return {
        "id": d.id,
        "event": d.event_type,
        "object_id": d.object_id,
        "url": d.url,
        "status": d.status,
        "attempts": d.attempts,
        "next_attempt_at": _time(d.next_attempt_at),
        "created_at": _time(d.created_at),
        "delivered_at": _time(d.delivered_at),
        "last_error": d.last_error,
        "last_status_code": last.status_code if last else None,
        "last_latency_ms": last.latency_ms if last else None,
        "history": [
            {
                "at": _time(a.attempted_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "outcome": a.outcome,
                "detail": a.detail,
            }
            for a in d.history
        ],
    }


def _line(r: dict) -> str:
    code = r["last_status_code"] if r["last_status_code"] is not None else "-"
    latency = f"{r['last_latency_ms']}ms" if r["last_latency_ms"] is not None else "-"
    tail = f"  {r['last_error']}" if r["status"] != "delivered" and r["last_error"] else ""
    return f"{r['id']}  {r['status']:<9}  {r['event']:<26}  tries {r['attempts']}  last {code} {latency}{tail}"


def _fail(exc: SfumatoError) -> None:
    typer.secho(f"error: {exc.message}", fg="red", err=True)
    raise typer.Exit(code=1)


@webhooks_app.command("list")
def webhooks_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, newest first, with each attempt's status code and latency."""
    rows = [_row(d) for d in _webhooks().list_deliveries(failed_only=failed, limit=limit)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        typer.echo("\n".join(_line(r) for r in rows) or "no deliveries")


@webhooks_app.command("redeliver")
def webhooks_redeliver(
    delivery_id: Annotated[str, typer.Argument(help="A delivery id (msg_...) from `sfumato webhooks list`.")],
    as_json: JsonFlag = False,
) -> None:
    """Queue a delivery again: same webhook-id and body, new attempts. A running server sends it."""
    try:
        info = _webhooks().redeliver(delivery_id)
    except SfumatoError as exc:
        _fail(exc)
        return
    row = _row(info)
    typer.echo(json.dumps(row) if as_json else f"delivery {info.id} queued again ({info.url})")
