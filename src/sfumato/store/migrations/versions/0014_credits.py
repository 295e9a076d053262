"""credit balances per user and the charge recorded on each job (services/credits/, docs/credits.md)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_balances",
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("subscription_tokens", sa.BigInteger(), nullable=False),
        sa.Column("paid_tokens", sa.BigInteger(), nullable=False),
        sa.Column("monthly", sa.BigInteger(), nullable=True),
        sa.Column("renews_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "credit_charges",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("job_kind", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("from_subscription", sa.BigInteger(), nullable=False),
        sa.Column("from_paid", sa.BigInteger(), nullable=False),
        sa.Column("enforced", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_credit_charges_user_id", "credit_charges", ["user_id"])
    op.create_index("ix_credit_charges_job_id", "credit_charges", ["job_id"])
    op.create_index("ix_credit_charges_created_at", "credit_charges", ["created_at"])


def downgrade() -> None:
    op.drop_table("credit_charges")
    op.drop_table("credit_balances")
