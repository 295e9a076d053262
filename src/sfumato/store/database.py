"""Engine and session factory for SQLite (embedded default) or PostgreSQL, plus schema migration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def make_engine(url: str, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        # The API threads and the in-process worker share one file: WAL lets readers run beside a writer,
        # and the busy timeout makes a second writer wait instead of failing.
        # A pool as big as PostgreSQL's: connections beyond it are opened and closed per use, and each opening
        # runs the pragmas below (with a busy API that churn cost more than the queries).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # PostgreSQL: a pool per process (API host or worker); pre-ping drops connections a failover closed.
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_schema(engine: Engine) -> None:
    """Apply every Alembic migration (idempotent: a current schema is left as it is)."""
    command.upgrade(alembic_config(engine), "head")


class Database:
    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 20) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(url, pool_size, max_overflow)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A file on this machine (SQLite in WAL mode, where a reader never waits for a writer): a short read takes
        # microseconds and can run on the caller's thread. PostgreSQL's reads wait on the network.
        self.is_local = self.engine.dialect.name == "sqlite"

    def upgrade(self) -> None:
        upgrade_schema(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commits when the block succeeds, rolls back when it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for read-only Core queries: no ORM session, identity map or commit. The polled read
        paths (every request's key lookup, GET /generations/{id}) use it: ORM loading was most of their cost."""
        with self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
