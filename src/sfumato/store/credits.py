"""Credit balances and the charge ledger (services/credits/). A user without a balance row is unlimited: their
jobs are priced and recorded but never refused. Both tables go with the user (ON DELETE CASCADE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sfumato.store.models import Base, utcnow


class CreditBalance(Base):
    """What a user may still spend: subscription tokens (reset to `monthly` at each renewal, spent first) and
    paid tokens (never expire). Only ever changed by conditional UPDATEs (services/credits/ledger.py)."""

    __tablename__ = "credit_balances"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    subscription_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    monthly: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: no monthly renewal
    renews_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CreditCharge(Base):
    """One charge: a job (or a synchronous call) and what it cost, split by the bucket it was taken from, so a
    refund returns exactly that, once (`refunded_at` is set by a conditional UPDATE). `job_id` is cleared when
    the job itself is deleted (the amount stays for the operator's audit)."""

    __tablename__ = "credit_charges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    job_kind: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    from_subscription: Mapped[int] = mapped_column(BigInteger, default=0)
    from_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    enforced: Mapped[bool] = mapped_column(default=False)  # False: an unlimited user's (priced, not taken)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
