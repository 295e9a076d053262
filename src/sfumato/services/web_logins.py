"""Web app sign-in: Argon2 passwords, server-side sessions (a random token in the cookie, only its sha256 in
the database, so sessions can be revoked), and login throttling through the shared rate limiter."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select

from sfumato.services.errors import Busy, InvalidRequest, NotFound, Unauthorized
from sfumato.services.limits import RateLimiter
from sfumato.store.database import Database
from sfumato.store.models import User
from sfumato.store.web_sessions import WebSession

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD_LENGTH = 8
_WRONG = "Wrong username or password"
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = PasswordHasher().hash("sfumato: no such user")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class WebUser:
    """Who a session cookie belongs to, and the CSRF token its forms carry."""

    user_id: str
    username: str
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    token: str  # goes into the cookie; never stored
    user: WebUser


class WebLogins:
    def __init__(self, db: Database, limiter: RateLimiter) -> None:
        self._db = db
        self._limiter = limiter
        self._hasher = PasswordHasher()

    def check_new_password(self, password: str) -> None:
        check_password(password)

    def set_password(self, username: str, password: str) -> str:
        """Set (or change) a user's password and sign them out everywhere; returns the user id."""
        check_password(password)
        hashed = self._hasher.hash(password)
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"no user named {username!r}")
            user.password_hash = hashed
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
            return user.id

    def change_password(self, username: str, current: str, new: str, client: str) -> NewSession:
        """Check the current password (throttled like a sign-in), set the new one, sign out every session and
        open a fresh one for the browser that asked."""
        check_password(new)
        try:
            self._verify(username, current, client)
        except Unauthorized:
            raise Unauthorized("The current password is wrong", field="current_password") from None
        self.set_password(username, new)
        return self._open_session(username)

    def login(self, username: str, password: str, client: str) -> NewSession:
        """A new session (a fresh token: rotated at every login), or Unauthorized / Busy (throttled)."""
        self._verify(username, password, client)
        return self._open_session(username)

    def _verify(self, username: str, password: str, client: str) -> None:
        refusal = self._limiter.check_login(username.strip().lower(), client)
        if refusal is not None:
            raise Busy(refusal)
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username.strip()))
            stored = user.password_hash if user is not None else None
            try:
                self._hasher.verify(stored or _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                raise Unauthorized(_WRONG) from None
            if user is None or stored is None:
                raise Unauthorized(_WRONG)
            if self._hasher.check_needs_rehash(stored):
                user.password_hash = self._hasher.hash(password)

    def _open_session(self, username: str) -> NewSession:
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username.strip()))
            if user is None:
                raise Unauthorized(_WRONG)
            token = secrets.token_urlsafe(32)
            now = datetime.now(UTC)
            row = WebSession(
                id=str(uuid.uuid4()),
                user_id=user.id,
                token_hash=_digest(token),
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
            s.add(row)
            return NewSession(token, WebUser(user.id, user.username, row.csrf_token))

    def session_user(self, token: str | None) -> WebUser | None:
        """The signed-in user of a cookie's token; None when it is unknown, revoked or expired."""
        if not token:
            return None
        digest = _digest(token)
        with self._db.session() as s:
            row = s.scalar(select(WebSession).where(WebSession.token_hash == digest))
            if row is None or not hmac.compare_digest(row.token_hash, digest):
                return None
            expires = row.expires_at.replace(tzinfo=row.expires_at.tzinfo or UTC)
            if expires <= datetime.now(UTC):
                s.delete(row)
                return None
            user = s.get(User, row.user_id)
            if user is None:
                return None
            return WebUser(user.id, user.username, row.csrf_token)

    def logout(self, token: str | None) -> None:
        if token:
            with self._db.session() as s:
                s.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))

    def session_count(self, username: str) -> int:
        """How many sessions a user has (for `sfumato users` and tests)."""
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
            if user is None:
                raise NotFound(f"no user named {username!r}")
            return len(s.scalars(select(WebSession.id).where(WebSession.user_id == user.id)).all())
