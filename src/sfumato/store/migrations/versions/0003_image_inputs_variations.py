"""image inputs and variations: uploaded init images, variation jobs

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "init_images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("file_key", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("file_key"),
    )
    op.create_index("ix_init_images_user_id", "init_images", ["user_id"])
    op.create_table(
        "image_variations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column("generation_id", sa.String(length=36), nullable=False),
        sa.Column("generated_image_id", sa.String(length=36), nullable=False),
        sa.Column("source_variation_id", sa.String(length=36), nullable=True),
        sa.Column("transform_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=True),
        sa.Column("file_key", sa.Text(), nullable=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("transparent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["generation_id"], ["generations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["generated_image_id"], ["generated_images.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_image_variations_user_id", "image_variations", ["user_id"])
    op.create_index("ix_image_variations_generation_id", "image_variations", ["generation_id"])
    op.create_index("ix_image_variations_generated_image_id", "image_variations", ["generated_image_id"])
    op.create_index("ix_image_variations_status", "image_variations", ["status"])
    op.create_index("ix_image_variations_created_at", "image_variations", ["created_at"])


def downgrade() -> None:
    op.drop_table("image_variations")
    op.drop_index("ix_init_images_user_id", table_name="init_images")
    op.drop_table("init_images")
