"""scale-out: worker heartbeat rows, the worker and lease of each generation

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("current_job", sa.String(length=36), nullable=True),
        sa.Column("jobs_done", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_workers_last_seen", "workers", ["last_seen"])
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    # The queue cap and the slot check count one user's PENDING rows on every request and claim.
    op.create_index("ix_generations_user_status", "generations", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_generations_user_status", table_name="generations")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("worker")
    op.drop_index("ix_workers_last_seen", table_name="workers")
    op.drop_table("workers")
