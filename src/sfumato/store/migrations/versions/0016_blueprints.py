"""blueprint executions and their steps (store/blueprints.py; services/blueprints runs them)

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _user_id() -> sa.Column:
    return sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "blueprint_executions",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _user_id(),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column("blueprint_id", sa.String(length=36), nullable=False),
        sa.Column("blueprint_version_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("collection_ids", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_blueprint_executions_user_id", "blueprint_executions", ["user_id"])
    op.create_index("ix_blueprint_executions_status", "blueprint_executions", ["status"])
    op.create_index("ix_blueprint_executions_created_at", "blueprint_executions", ["created_at"])
    op.create_table(
        "blueprint_steps",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column(
            "execution_id",
            sa.String(length=36),
            sa.ForeignKey("blueprint_executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _user_id(),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=100), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("input_node_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("starting_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "generation_id", sa.String(length=36), sa.ForeignKey("generations.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "variation_id",
            sa.String(length=36),
            sa.ForeignKey("image_variations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("output_kind", sa.String(length=20), nullable=True),
        sa.Column("output_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_blueprint_steps_execution_id", "blueprint_steps", ["execution_id"])
    op.create_index("ix_blueprint_steps_user_id", "blueprint_steps", ["user_id"])
    op.create_index("ix_blueprint_steps_generation_id", "blueprint_steps", ["generation_id"])
    op.create_index("ix_blueprint_steps_variation_id", "blueprint_steps", ["variation_id"])


def downgrade() -> None:
    op.drop_table("blueprint_steps")
    op.drop_table("blueprint_executions")
