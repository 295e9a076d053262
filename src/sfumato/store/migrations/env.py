"""Alembic environment: the engine comes from the caller (`Database.upgrade`), never from an ini file."""

from alembic import context

from sfumato.store import credits, media, three_d, training, web_sessions, workers  # noqa: F401 — register every table
from sfumato.store.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
