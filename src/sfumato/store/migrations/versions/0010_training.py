"""custom models and elements: datasets, dataset images, trainings, element numbers; a generation's adapters

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
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
        "datasets",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _user_id(),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_datasets_user_id", "datasets", ["user_id"])
    op.create_table(
        "dataset_images",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("dataset_id", sa.String(length=36), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        _user_id(),
        sa.Column("extension", sa.String(length=8), nullable=False),
        sa.Column("file_key", sa.Text(), nullable=False, unique=True),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("source_image_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_dataset_images_dataset_id", "dataset_images", ["dataset_id"])
    op.create_index("ix_dataset_images_user_id", "dataset_images", ["user_id"])
    op.create_table(
        "trainings",
        sa.Column("id", sa.String(length=36), primary_key=True),
        _user_id(),
        *_job_columns(),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("image_keys", sa.JSON(), nullable=False),
        sa.Column("instance_prompt", sa.Text(), nullable=False),
        sa.Column("instance_token", sa.String(length=64), nullable=True),
        sa.Column("base_model_id", sa.String(length=36), nullable=False),
        sa.Column("base_model_path", sa.Text(), nullable=False),
        sa.Column("sd_version", sa.String(length=40), nullable=False),
        sa.Column("model_type", sa.String(length=40), nullable=True),
        sa.Column("strength", sa.String(length=16), nullable=True),
        sa.Column("nsfw", sa.Boolean(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("focus", sa.String(length=16), nullable=True),
        sa.Column("train_text_encoder", sa.Boolean(), nullable=False),
        sa.Column("num_train_epochs", sa.Integer(), nullable=True),
        sa.Column("learning_rate", sa.Float(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adapter_key", sa.Text(), nullable=True),
    )
    op.create_index("ix_trainings_user_id", "trainings", ["user_id"])
    op.create_index("ix_trainings_status", "trainings", ["status"])
    op.create_index("ix_trainings_created_at", "trainings", ["created_at"])
    op.create_table(
        "element_numbers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "training_id",
            sa.String(length=36),
            sa.ForeignKey("trainings.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        _user_id(),
    )
    op.create_index("ix_element_numbers_user_id", "element_numbers", ["user_id"])
    # The LoRAs a generation applies (a custom model's, platform and user elements), with their weights.
    op.add_column("generations", sa.Column("adapters", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("generations", "adapters")
    op.drop_table("element_numbers")
    op.drop_table("trainings")
    op.drop_table("dataset_images")
    op.drop_table("datasets")
