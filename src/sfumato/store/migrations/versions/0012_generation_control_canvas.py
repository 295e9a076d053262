"""generations.controls and generations.canvas: ControlNets and canvas-editor requests, as JSON

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs (nullable columns): no table rebuild on SQLite.
    op.add_column("generations", sa.Column("controls", sa.JSON(), nullable=True))
    op.add_column("generations", sa.Column("canvas", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("generations", "canvas")
    op.drop_column("generations", "controls")
