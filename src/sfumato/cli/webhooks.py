"""`sfumato webhooks ...`: see and replay webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly
from sfumato.services.webhooks import DeliveryInfo

webhooks_app = typer.Typer(help="Webhook deliveries: list them, replay one.", no_args_is_help=True)


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _row(d: DeliveryInfo) -> dict[str, Any]:
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


def _line(r: dict[str, Any]) -> str:
    code = r["last_status_code"] if r["last_status_code"] is not None else "-"
    latency = f"{r['last_latency_ms']}ms" if r["last_latency_ms"] is not None else "-"
    tail = f"  {r['last_error']}" if r["status"] != "delivered" and r["last_error"] else ""
    return f"{r['id']}  {r['status']:<9}  {r['event']:<26}  tries {r['attempts']}  last {code} {latency}{tail}"


@webhooks_app.command("list")
def webhooks_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries that gave up.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List deliveries, newest first, with each attempt's status code and latency."""
    rows = [_row(d) for d in container().webhooks.list_deliveries(failed_only=failed, limit=limit)]
    emit(as_json, rows, "\n".join(_line(r) for r in rows) or "no deliveries")


@webhooks_app.command("redeliver")
@fails_cleanly
def webhooks_redeliver(
    delivery_id: Annotated[str, typer.Argument(help="A delivery id (msg_...) from `sfumato webhooks list`.")],
    as_json: JsonFlag = False,
) -> None:
    """Queue a delivery again: same webhook-id and body, new attempts. A running server sends it."""
    info = container().webhooks.redeliver(delivery_id)
    emit(as_json, _row(info), f"delivery {info.id} queued again ({info.url})")
