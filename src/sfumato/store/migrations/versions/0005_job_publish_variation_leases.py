"""scale-out: when each job was published to the broker; worker leases and a user index for variations

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("image_variations") as batch:
        batch.add_column(sa.Column("worker", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))
    # The queue cap and the slot check now count variations too, on every request and claim.
    op.create_index("ix_image_variations_user_status", "image_variations", ["user_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_image_variations_user_status", table_name="image_variations")
    with op.batch_alter_table("image_variations") as batch:
        batch.drop_column("published_at")
        batch.drop_column("claimed_at")
        batch.drop_column("worker")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("published_at")
