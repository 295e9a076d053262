"""Web sign-in below the pages: the migrated schema is the models' (no drift between store/web_sessions.py and
migration 0011), passwords are Argon2 hashes, sessions store only a token's sha256, rotate at login and go on a
password change and with the user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from sfumato.services.accounts import Accounts
from sfumato.services.errors import Busy, InvalidRequest, Unauthorized
from sfumato.services.limits import MemoryCounter, RateLimiter
from sfumato.services.web_logins import WebLogins
from sfumato.store import media, training, web_sessions, workers  # noqa: F401 (every table on the metadata)
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import Base, User
from sfumato.store.web_sessions import WebSession


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'web.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def logins(db: Database) -> WebLogins:
    return WebLogins(db, RateLimiter(MemoryCounter(), per_minute=2000, jobs_per_minute=100))


def test_the_migrated_schema_is_the_models_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if "web_sessions" in repr(d) or "password_hash" in repr(d)]
    assert ours == [], ours


def test_a_session_is_a_hashed_token_rotated_at_login_and_gone_on_password_change(
    db: Database, logins: WebLogins, tmp_path: Path
) -> None:
    Accounts(db, LocalFileStore(tmp_path / "files")).create_user("ada")
    with pytest.raises(InvalidRequest, match="at least 8"):
        logins.set_password("ada", "short")
    logins.set_password("ada", "correct horse")
    with db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "ada"))
    assert stored is not None and stored.startswith("$argon2id$") and "correct horse" not in stored
    with pytest.raises(Unauthorized, match="Wrong username or password"):
        logins.login("ada", "wrong horse", "127.0.0.1")
    first = logins.login("ada", "correct horse", "127.0.0.1")
    second = logins.login("ada", "correct horse", "127.0.0.1")
    assert first.token != second.token and first.user.csrf_token != second.user.csrf_token
    with db.session() as s:
        hashes = set(s.scalars(select(WebSession.token_hash)))
    assert first.token not in hashes and len(hashes) == 2
    who = logins.session_user(second.token)
    assert who is not None and who.username == "ada"
    logins.set_password("ada", "battery staple")
    assert logins.session_user(first.token) is None and logins.session_user(second.token) is None
    assert logins.session_count("ada") == 0


def test_sessions_go_with_the_user(db: Database, logins: WebLogins, tmp_path: Path) -> None:
    accounts = Accounts(db, LocalFileStore(tmp_path / "files"))
    accounts.create_user("bob")
    logins.set_password("bob", "correct horse")
    token = logins.login("bob", "correct horse", "127.0.0.1").token
    accounts.delete_user("bob")
    assert logins.session_user(token) is None
    with db.session() as s:
        assert s.scalars(select(WebSession)).all() == []


def test_sign_in_attempts_are_throttled_per_username(logins: WebLogins) -> None:
    for _ in range(5):
        with pytest.raises(Unauthorized):
            logins.login("nobody", "guess guess", "10.0.0.1")
    with pytest.raises(Busy, match="Too many sign-in attempts"):
        logins.login("nobody", "guess guess", "10.0.0.2")
