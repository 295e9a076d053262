"""image_variations for the universal upscaler: a variation of an uploaded init image (no generation), its
model and its settings

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite cannot drop NOT NULL or add a foreign key in place (the table is rebuilt there).
    with op.batch_alter_table("image_variations") as batch:
        batch.alter_column("generation_id", existing_type=sa.String(length=36), nullable=True)
        batch.alter_column("generated_image_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("init_image_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("model_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            "fk_image_variations_init_image_id", "init_images", ["init_image_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_image_variations_init_image_id", ["init_image_id"])


def downgrade() -> None:
    op.execute("DELETE FROM image_variations WHERE generation_id IS NULL")
    with op.batch_alter_table("image_variations") as batch:
        batch.drop_index("ix_image_variations_init_image_id")
        batch.drop_constraint("fk_image_variations_init_image_id", type_="foreignkey")
        batch.drop_column("settings")
        batch.drop_column("model_id")
        batch.drop_column("init_image_id")
        batch.alter_column("generated_image_id", existing_type=sa.String(length=36), nullable=False)
        batch.alter_column("generation_id", existing_type=sa.String(length=36), nullable=False)
