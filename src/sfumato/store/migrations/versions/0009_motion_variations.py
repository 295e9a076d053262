"""motion variations: video upscales of motion generations

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "motion_variations",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column(
            "generation_id", sa.String(length=36), sa.ForeignKey("generations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "generated_image_id",
            sa.String(length=36),
            sa.ForeignKey("generated_images.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("transform_type", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=20), nullable=False),
        sa.Column("file_key", sa.Text(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_motion_variations_user_id", "motion_variations", ["user_id"])
    op.create_index("ix_motion_variations_generation_id", "motion_variations", ["generation_id"])
    op.create_index("ix_motion_variations_status", "motion_variations", ["status"])
    op.create_index("ix_motion_variations_created_at", "motion_variations", ["created_at"])


def downgrade() -> None:
    op.drop_table("motion_variations")
