"""a user's generations newest first from one index (GET /generations/user/{userId}, the web app's History)

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_generations_user_newest", "generations", ["user_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_generations_user_newest", table_name="generations")
