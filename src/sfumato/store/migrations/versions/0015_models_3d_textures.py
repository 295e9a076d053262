"""3D model assets and texture generations (store/three_d.py)

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _user_id() -> sa.Column:
    return sa.Column("user_id", sa.String(length=36), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def _job_columns() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "model_assets",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _user_id(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("file_key", sa.Text(), nullable=False, unique=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("vertices", sa.Integer(), nullable=True),
        sa.Column("faces", sa.Integer(), nullable=True),
        sa.Column("has_uvs", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_assets_user_id", "model_assets", ["user_id"])
    op.create_index("ix_model_assets_token", "model_assets", ["token"])
    op.create_table(
        "texture_generations",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _user_id(),
        *_job_columns(),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column(
            "model_asset_id",
            sa.String(length=36),
            sa.ForeignKey("model_assets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("model_id", sa.String(length=36), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("negative_prompt", sa.Text(), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("front_rotation_offset", sa.Integer(), nullable=False),
        sa.Column("preview", sa.Boolean(), nullable=False),
        sa.Column("preview_direction", sa.String(length=16), nullable=False),
        sa.Column("sd_version", sa.String(length=40), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("images", sa.JSON(), nullable=True),
        sa.Column("preview_key", sa.Text(), nullable=True),
        sa.Column("mesh_key", sa.Text(), nullable=True),
        sa.Column("material_key", sa.Text(), nullable=True),
        sa.Column("method", sa.String(length=40), nullable=True),
    )
    for column in ("user_id", "status", "created_at", "model_asset_id", "token"):
        op.create_index(f"ix_texture_generations_{column}", "texture_generations", [column])


def downgrade() -> None:
    op.drop_table("texture_generations")
    op.drop_table("model_assets")
