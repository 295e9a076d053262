"""Balances and charges: the one place credits are taken, given back and read.

Invariants (docs/credits.md):
- A job is charged in the transaction that inserts its row (`Credits.charge`, called by every creation point),
  so a job exists exactly when its charge does; a refused charge rolls the job back with it.
- A balance only changes through conditional UPDATEs (`... WHERE tokens >= taken`), after the balance row is
  locked (SELECT ... FOR UPDATE on PostgreSQL; on SQLite the job row's INSERT, flushed first, already holds the
  database's one write lock). Two API hosts charging one user at once are serialized: no overdraft, and each
  charge is its own ledger row, so nothing is taken twice.
- Subscription tokens are spent first, then paid tokens; the ledger row records how much came from each.
- A refund (`refund_failed`, a finish hook, or `refund` after a synchronous call failed) marks the ledger row
  refunded with a conditional UPDATE (`WHERE refunded_at IS NULL`): only the one that flips it gives the
  tokens back, to the buckets they came from, so a job is refunded once however many times it is finished.
- A user without a balance row is unlimited: their charges are recorded (amount, not enforced) and never refused.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.credits.table import PriceTable
from sfumato.services.errors import InsufficientCredits, InvalidRequest, NotFound
from sfumato.store.credits import CreditBalance, CreditCharge
from sfumato.store.database import Database
from sfumato.store.models import User

log = logging.getLogger(__name__)
MAX_CREDITS = 10**12


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC


def add_months(moment: datetime, months: int = 1) -> datetime:
    """The same day `months` later (the month's last day when it has no such day: Jan 31 -> Feb 28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Balance:
    """What /me shows. `unlimited`: the operator gave this user no balance (nothing is enforced)."""

    unlimited: bool
    subscription_tokens: int = 0
    paid_tokens: int = 0
    monthly: int | None = None
    renews_at: datetime | None = None

    @property
    def total(self) -> int:
        return self.subscription_tokens + self.paid_tokens


@dataclass(frozen=True)
class ChargeRecord:
    id: int
    user_id: str
    job_kind: str
    job_id: str | None
    amount: int
    from_subscription: int
    from_paid: int
    enforced: bool
    created_at: datetime
    refunded_at: datetime | None


class Credits:
    def __init__(self, db: Database, table: PriceTable | None = None) -> None:
        self._db = db
        self.table = table or PriceTable.default()

    # --- charging (inside the caller's transaction) -------------------------------------------------------

    def charge(self, s: Session, user_id: str, job_kind: str, job_id: str, amount: int) -> int:
        """Take `amount` for job `job_id` in the caller's transaction (the one that inserts the job), or raise
        InsufficientCredits (402) naming the cost and the balance, which rolls the job back. Returns the amount."""
        s.flush()  # the job row first: on SQLite its INSERT takes the write lock that serializes the charge
        # FOR UPDATE (PostgreSQL): concurrent charges of this user wait here; populate_existing: never a copy
        # the session read before the lock.
        bal = s.scalar(
            select(CreditBalance)
            .where(CreditBalance.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        taken_sub = taken_paid = 0
        if bal is not None:
            self._renew_if_due(s, bal)
            if bal.subscription_tokens + bal.paid_tokens < amount:
                raise InsufficientCredits(
                    f"this job costs {amount} credits and your balance is {bal.subscription_tokens + bal.paid_tokens} "
                    f"({bal.subscription_tokens} subscription + {bal.paid_tokens} paid); ask the operator for more "
                    "credits, or make a cheaper request (POST /pricing-calculator prices one)",
                )
            taken_sub = min(amount, bal.subscription_tokens)
            taken_paid = amount - taken_sub
            done = s.execute(
                update(CreditBalance)
                .where(
                    CreditBalance.user_id == user_id,
                    CreditBalance.subscription_tokens >= taken_sub,
                    CreditBalance.paid_tokens >= taken_paid,
                )
                .values(
                    subscription_tokens=CreditBalance.subscription_tokens - taken_sub,
                    paid_tokens=CreditBalance.paid_tokens - taken_paid,
                    updated_at=datetime.now(UTC),
                )
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]  # cannot happen under the lock; never overdraw
                raise InsufficientCredits(f"this job costs {amount} credits and your balance changed meanwhile; "
                                          "send the request again")  # fmt: skip
            s.expire(bal)
        s.add(
            CreditCharge(
                user_id=user_id,
                job_kind=job_kind,
                job_id=job_id,
                amount=amount,
                from_subscription=taken_sub,
                from_paid=taken_paid,
                enforced=bal is not None,
                created_at=datetime.now(UTC),
            )
        )
        return amount

    def charge_now(self, user_id: str, job_kind: str, job_id: str, amount: int) -> int:
        """A synchronous call (realtime canvas, prompt tools): charged in a transaction of its own, before the
        work; `refund` gives it back if the work then fails on the server's side."""
        with self._db.session() as s:
            s.get(User, user_id, with_for_update=True)  # PostgreSQL: one charge of this user at a time
            return self.charge(s, user_id, job_kind, job_id, amount)

    def _renew_if_due(self, s: Session, bal: CreditBalance) -> None:
        """Monthly renewal, done lazily when the balance is next used: at the renewal date the subscription
        tokens become the monthly amount again (unspent ones do not carry over) and the date moves a month on."""
        if bal.monthly is None or bal.renews_at is None:
            return
        now = datetime.now(UTC)
        due = aware(bal.renews_at)
        if due > now:
            return
        following = due
        while following <= now:
            following = add_months(following)
        s.execute(
            update(CreditBalance)
            .where(CreditBalance.user_id == bal.user_id, CreditBalance.renews_at == bal.renews_at)
            .values(subscription_tokens=bal.monthly, renews_at=following)
            .execution_options(synchronize_session=False)
        )
        s.refresh(bal)

    # --- refunds ---------------------------------------------------------------------------------------------

    def refund_failed(self, s: Session, row: Any) -> None:
        """Finish hook of every job kind (before the webhook's, so its body shows the cost after the refund):
        a job that ends FAILED gets its charge back; CANCELLED (the user's or the operator's choice) does not."""
        if row.status == JobStatus.FAILED:
            self._refund(s, row.id)

    def refund(self, job_id: str) -> None:
        with self._db.session() as s:
            self._refund(s, job_id)

    def _refund(self, s: Session, job_id: str) -> None:
        for charge in s.scalars(select(CreditCharge).where(CreditCharge.job_id == job_id)).all():
            flipped = s.execute(
                update(CreditCharge)
                .where(CreditCharge.id == charge.id, CreditCharge.refunded_at.is_(None))
                .values(refunded_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
            if flipped.rowcount != 1:  # type: ignore[attr-defined]
                continue  # refunded already
            if charge.enforced and (charge.from_subscription or charge.from_paid):
                s.execute(
                    update(CreditBalance)
                    .where(CreditBalance.user_id == charge.user_id)
                    .values(
                        subscription_tokens=CreditBalance.subscription_tokens + charge.from_subscription,
                        paid_tokens=CreditBalance.paid_tokens + charge.from_paid,
                        updated_at=datetime.now(UTC),
                    )
                    .execution_options(synchronize_session=False)
                )
            log.info("refunded %d credits of %s %s", charge.amount, charge.job_kind, job_id)

    # --- reading ---------------------------------------------------------------------------------------------

    def charged(self, job_id: str) -> int:
        """What the job was charged (0 if nothing was)."""
        with self._db.session() as s:
            return self.net_cost(s, job_id)

    @staticmethod
    def net_cost(s: Session, job_id: str) -> int:
        """What the job costs its user now: its charge, or 0 once refunded (webhook bodies' tokenCost)."""
        query = select(func.coalesce(func.sum(CreditCharge.amount), 0)).where(
            CreditCharge.job_id == job_id, CreditCharge.refunded_at.is_(None)
        )
        return int(s.scalar(query) or 0)

    def balance(self, user_id: str) -> Balance:
        with self._db.session() as s:
            bal = s.get(CreditBalance, user_id)
            if bal is None:
                return Balance(unlimited=True)
            self._renew_if_due(s, bal)
            return Balance(False, bal.subscription_tokens, bal.paid_tokens, bal.monthly, bal.renews_at)

    def ledger(self, user_id: str, limit: int = 100) -> list[ChargeRecord]:
        with self._db.session() as s:
            rows = s.scalars(
                select(CreditCharge)
                .where(CreditCharge.user_id == user_id)
                .order_by(CreditCharge.id.desc())
                .limit(limit)
            ).all()
            return [
                ChargeRecord(r.id, r.user_id, r.job_kind, r.job_id, r.amount, r.from_subscription, r.from_paid,
                             r.enforced, r.created_at, r.refunded_at)
                for r in rows
            ]  # fmt: skip

    # --- the operator ----------------------------------------------------------------------------------------

    def user_id(self, username: str) -> str:
        with self._db.session() as s:
            found = s.scalar(select(User.id).where(User.username == username))
        if found is None:
            raise NotFound(f"no user named {username!r}")
        return found

    def set_balance(
        self,
        username: str,
        credits: int | None,
        unlimited: bool = False,
        monthly: int | None = None,
        add: int | None = None,
    ) -> tuple[str, Balance]:
        """`sfumato users set NAME --credits N|unlimited [--renew-monthly N] [--add-credits N]`.
        credits: the paid tokens (never expire); unlimited: drop the balance (nothing enforced);
        monthly: the subscription tokens, now and again at each monthly renewal (0 stops renewing);
        add: paid tokens added to what is there (a top-up)."""
        for name, value in (("--credits", credits), ("--renew-monthly", monthly), ("--add-credits", add)):
            if value is not None and not 0 <= value <= MAX_CREDITS:
                raise InvalidRequest(f"{name} must be a whole number from 0 to {MAX_CREDITS}, got {value}")
        if unlimited and (monthly is not None or add is not None):
            raise InvalidRequest("--credits unlimited takes no --renew-monthly or --add-credits: an unlimited "
                                 "user has no balance to renew or add to")  # fmt: skip
        now = datetime.now(UTC)
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"no user named {username!r}")
            if unlimited:
                s.execute(delete(CreditBalance).where(CreditBalance.user_id == user.id))
                return user.id, Balance(unlimited=True)
            bal = s.get(CreditBalance, user.id, with_for_update=True)
            if bal is None:
                bal = CreditBalance(user_id=user.id, subscription_tokens=0, paid_tokens=0, updated_at=now)
                s.add(bal)
            if credits is not None:
                bal.paid_tokens = credits
            if add is not None:
                bal.paid_tokens = (bal.paid_tokens or 0) + add
            if monthly is not None:
                if monthly == 0:
                    bal.monthly, bal.renews_at, bal.subscription_tokens = None, None, 0
                else:
                    bal.monthly, bal.renews_at, bal.subscription_tokens = monthly, add_months(now), monthly
            bal.updated_at = now
            s.flush()
            return user.id, Balance(False, bal.subscription_tokens, bal.paid_tokens, bal.monthly, bal.renews_at)

    @staticmethod
    def forget_jobs(s: Session, job_ids: Iterable[str]) -> None:
        """A deleted job's charges keep their amounts (the operator's audit) but no longer name the job."""
        ids = [i for i in job_ids if i]
        if ids:
            s.execute(
                update(CreditCharge)
                .where(CreditCharge.job_id.in_(ids))
                .values(job_id=None)
                .execution_options(synchronize_session=False)
            )
