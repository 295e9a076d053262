"""generations: typed columns for image inputs and how they were honoured, instead of Leonardo's key names in
the `extras` JSON; what remains of it (accepted options that change nothing) becomes `options`, in our names

Revision ID: 0007
Revises: 0006
"""

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# extras key -> column, as the service and the runner wrote them before this revision.
MOVED = {
    "initImageId": "init_image_id",
    "initGeneratedImageId": "init_generated_image_id",
    "initStrengthIgnored": "init_strength_ignored",
    "imagePrompts": "image_prompt_ids",
    "imagePromptWeight": "image_prompt_weight",
    "imagePromptMethod": "image_prompt_method",
    "transparency": "transparency",
    "transparencyMethod": "transparency_method",
}


def new_columns() -> list[sa.Column[Any]]:
    """Fresh Column objects each call (a Column belongs to one table once added)."""
    return [
        sa.Column("init_image_id", sa.String(length=36), nullable=True),
        sa.Column("init_generated_image_id", sa.String(length=36), nullable=True),
        sa.Column("init_file_key", sa.Text(), nullable=True),
        sa.Column("init_strength_ignored", sa.Float(), nullable=True),
        sa.Column("image_prompt_ids", sa.JSON(), nullable=True),
        sa.Column("image_prompt_file_keys", sa.JSON(), nullable=True),
        sa.Column("image_prompt_weight", sa.Float(), nullable=True),
        sa.Column("transparency", sa.String(length=20), nullable=True),
        sa.Column("image_prompt_method", sa.String(length=40), nullable=True),
        sa.Column("transparency_method", sa.String(length=40), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
    ]


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def upgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        for column in new_columns():
            batch.add_column(column)
    table = sa.table(
        "generations",
        sa.column("id", sa.String),
        sa.column("extras", sa.JSON),
        *(sa.column(c.name, c.type) for c in new_columns()),
    )
    bind = op.get_bind()
    for row_id, extras in bind.execute(sa.select(table.c.id, table.c.extras)).all():
        extras = dict(extras or {})
        files = extras.pop("inputFiles", None) or {}
        values = {column: extras.pop(key, None) for key, column in MOVED.items()}
        values["init_file_key"] = files.get("init")
        values["image_prompt_file_keys"] = files.get("prompts")
        extras.pop("_initStrength", None)  # the service moved it to init_strength at creation already
        values["options"] = {snake(key): value for key, value in extras.items()}
        bind.execute(sa.update(table).where(table.c.id == row_id).values(**values))
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("extras")


def downgrade() -> None:
    with op.batch_alter_table("generations") as batch:
        batch.add_column(sa.Column("extras", sa.JSON(), nullable=True))
    table = sa.table(
        "generations",
        sa.column("id", sa.String),
        sa.column("extras", sa.JSON),
        *(sa.column(c.name, c.type) for c in new_columns()),
    )
    bind = op.get_bind()
    for row in bind.execute(sa.select(table)).mappings().all():
        extras = {camel(key): value for key, value in (row["options"] or {}).items()}
        extras.update({key: row[column] for key, column in MOVED.items() if row[column] is not None})
        files = {k: v for k, v in (("init", row["init_file_key"]), ("prompts", row["image_prompt_file_keys"])) if v}
        if files:
            extras["inputFiles"] = files
        bind.execute(sa.update(table).where(table.c.id == row["id"]).values(extras=extras))
    with op.batch_alter_table("generations") as batch:
        batch.alter_column("extras", existing_type=sa.JSON(), nullable=False)
        for column in reversed(new_columns()):
            batch.drop_column(column.name)
