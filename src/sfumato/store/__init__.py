"""Storage of record: the database (SQLAlchemy + Alembic) and image files."""
