"""`sfumato users ...` and `sfumato keys ...`: accounts, their limits and their production API keys."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from sfumato.cli.common import JsonFlag, container, emit, fails_cleanly
from sfumato.services.credits import Balance
from sfumato.services.web_logins import check_password

users_app = typer.Typer(help="Accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Production API keys.", no_args_is_help=True)


def _read_password(confirm: bool) -> str:
    """Prompted without echo on a terminal; read from stdin's first line otherwise, so scripts can pipe it."""
    if sys.stdin.isatty():
        return str(typer.prompt("Password", hide_input=True, confirmation_prompt=confirm))
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create")
@fails_cleanly
def users_create(
    name: str,
    password: Annotated[
        bool, typer.Option("--password", help="Also set a web app password (prompted without echo).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user and print its id and a first API key (shown once)."""
    secret = _read_password(confirm=True) if password else None
    c = container()
    if secret is not None:  # checked before the user exists, so a too-short password leaves nothing behind
        check_password(secret)
    user_id, key = c.accounts.create_user(name)
    if secret is not None:
        c.web_logins.set_password(name, secret)
    text = f"user {name} created\nuser id: {user_id}\nAPI key (shown once): {key.secret}"
    emit(as_json, {"user_id": user_id, "api_key": key.secret, "key_id": key.info.id}, text)


@users_app.command("password")
@fails_cleanly
def users_password(name: str, as_json: JsonFlag = False) -> None:
    """Set a user's web app password (from stdin when it is not a terminal); signs them out everywhere."""
    user_id = container().web_logins.set_password(name, _read_password(confirm=True))
    emit(as_json, {"user_id": user_id}, f"user {name}: password set, every web session signed out")


@users_app.command("delete")
@fails_cleanly
def users_delete(name: str, as_json: JsonFlag = False) -> None:
    """Delete a user with every row and file they own, for good."""
    user_id = container().accounts.delete_user(name)
    emit(as_json, {"deleted_user_id": user_id}, f"user {name} ({user_id}) and all their data deleted")


@users_app.command("set")
@fails_cleanly
def users_set(
    name: str,
    slots: Annotated[
        int | None, typer.Option("--slots", help="apiConcurrencySlots: how many of the user's jobs run at once.")
    ] = None,
    credits: Annotated[
        str | None,
        typer.Option(
            "--credits",
            metavar="N|unlimited",
            help="Paid tokens: a balance of N credits that never expires (jobs beyond it are refused with 402), or "
            "'unlimited' (the default for every user: jobs are priced but never refused).",
        ),
    ] = None,
    renew_monthly: Annotated[
        int | None,
        typer.Option(
            "--renew-monthly",
            metavar="N",
            help="Subscription tokens: N now and again every month from today (spent before paid tokens; unspent "
            "ones do not carry over); 0 stops the renewal.",
        ),
    ] = None,
    add_credits: Annotated[
        int | None, typer.Option("--add-credits", metavar="N", help="Add N paid tokens to the balance (a top-up).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a user's limits: concurrency slots and credits (docs/credits.md)."""
    from sfumato.services.errors import InvalidRequest
    from sfumato.services.limits import set_concurrency_slots

    if slots is None and credits is None and renew_monthly is None and add_credits is None:
        raise InvalidRequest("nothing to set: give --slots, --credits, --renew-monthly or --add-credits")
    c = container()
    out: dict[str, object] = {}
    lines = []
    if slots is not None:
        out["user_id"] = set_concurrency_slots(c.db, name, slots)
        out["api_concurrency_slots"] = slots
        lines.append(f"user {name}: {slots} slots")
    if credits is not None or renew_monthly is not None or add_credits is not None:
        unlimited = credits is not None and credits.strip().lower() == "unlimited"
        amount = None
        if credits is not None and not unlimited:
            if not credits.strip().isdigit():
                raise InvalidRequest(f"--credits takes a whole number of credits or 'unlimited', got {credits!r}")
            amount = int(credits)
        assert c.credits is not None
        user_id, balance = c.credits.set_balance(name, amount, unlimited, renew_monthly, add_credits)
        out.update(user_id=user_id, **_balance_json(balance))
        lines.append(f"user {name}: {_balance_text(balance)}")
    emit(as_json, out, "\n".join(lines))


def _balance_json(balance: Balance) -> dict[str, object]:
    return {
        "unlimited": balance.unlimited,
        "subscription_tokens": balance.subscription_tokens,
        "paid_tokens": balance.paid_tokens,
        "renew_monthly": balance.monthly,
        "renews_at": balance.renews_at.isoformat() if balance.renews_at else None,
    }


def _balance_text(balance: Balance) -> str:
    if balance.unlimited:
        return "unlimited credits (jobs are priced, never refused)"
    text = f"{balance.total} credits ({balance.subscription_tokens} subscription + {balance.paid_tokens} paid)"
    if balance.monthly is not None and balance.renews_at is not None:
        text += f", renewed to {balance.monthly} on {balance.renews_at:%Y-%m-%d} and monthly after"
    return text


@users_app.command("credits")
@fails_cleanly
def users_credits(
    name: str,
    limit: Annotated[int, typer.Option("--limit", help="How many of the latest charges to list.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Show a user's credit balance and their latest charges (the ledger: job, amount, refunded)."""
    c = container()
    assert c.credits is not None
    user_id = c.credits.user_id(name)
    balance = c.credits.balance(user_id)
    charges = c.credits.ledger(user_id, limit)
    rows = [
        {
            "job_kind": r.job_kind,
            "job_id": r.job_id,
            "amount": r.amount,
            "enforced": r.enforced,
            "created_at": r.created_at.isoformat(),
            "refunded_at": r.refunded_at.isoformat() if r.refunded_at else None,
        }
        for r in charges
    ]
    text = "\n".join(
        [f"user {name}: {_balance_text(balance)}"]
        + [
            f"{r['created_at'][:19]}  {r['job_kind']:<13} {r['amount']:>6}  {r['job_id'] or '(deleted)'}"
            + ("  refunded" if r["refunded_at"] else "")
            for r in rows
        ]
    )
    emit(as_json, {"user_id": user_id, **_balance_json(balance), "charges": rows}, text)


@keys_app.command("create")
@fails_cleanly
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
    key = container().accounts.create_key(user, name=name, webhook_url=webhook_url, webhook_key=webhook_key)
    text = f"key id: {key.info.id}\nAPI key (shown once): {key.secret}"
    if key.signing_secret:
        text += f"\nwebhook signing secret (shown once): {key.signing_secret}"
    emit(as_json, {"key_id": key.info.id, "api_key": key.secret, "signing_secret": key.signing_secret}, text)


@keys_app.command("list")
@fails_cleanly
def keys_list(user: Annotated[str, typer.Option("--user")], as_json: JsonFlag = False) -> None:
    """List a user's keys (ids and hints; secrets are never stored)."""
    rows = [
        {
            "key_id": k.id,
            "name": k.name,
            "hint": k.hint,
            "created_at": k.created_at.isoformat(),
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
        }
        for k in container().accounts.list_keys(user)
    ]
    text = "\n".join(f"{r['key_id']}  {r['hint']}  {r['name']}" for r in rows) or "no keys"
    emit(as_json, rows, text)


@keys_app.command("revoke")
@fails_cleanly
def keys_revoke(key_id: str, as_json: JsonFlag = False) -> None:
    """Revoke a key: it stops working at once."""
    container().accounts.revoke_key(key_id)
    emit(as_json, {"revoked_key_id": key_id}, f"key {key_id} revoked")
