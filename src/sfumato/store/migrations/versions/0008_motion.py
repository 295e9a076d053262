"""motion: generations say which job kind runs them and, for motion, the source image, strength and frames;
generated images get the MP4 of a motion generation

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("job_kind", sa.String(length=16), nullable=False, server_default="generation"))
        batch.add_column(sa.Column("motion_source_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("motion_source_kind", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("motion_source_file_key", sa.Text(), nullable=True))
        batch.add_column(sa.Column("motion_strength", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("motion_frames", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("motion_fps", sa.Integer(), nullable=True))
    op.create_index("ix_generations_job_kind_status", "generations", ["job_kind", "status"])
    with op.batch_alter_table("generated_images") as batch:
        batch.add_column(sa.Column("video_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generated_images") as batch:
        batch.drop_column("video_key")
    op.drop_index("ix_generations_job_kind_status", table_name="generations")
    with op.batch_alter_table("generations") as batch:
        for name in (
            "motion_fps",
            "motion_frames",
            "motion_strength",
            "motion_source_file_key",
            "motion_source_kind",
            "motion_source_id",
            "job_kind",
        ):
            batch.drop_column(name)
