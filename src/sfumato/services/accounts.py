"""Users and production API keys: keys are shown once, stored as sha256, at most N per user."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from sfumato.services.errors import InvalidRequest, LimitExceeded, NotFound, Unauthorized
from sfumato.services.webhooks import new_signing_secret, validate_webhook_url
from sfumato.store.database import Database
from sfumato.store.files import FileStore, user_files_prefix
from sfumato.store.models import ApiKey, User

# Writing last_used_at on every request would make every GET a write; once a minute is enough.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


_KEY_LOOKUP = (
    select(
        ApiKey.id.label("key_id"),
        ApiKey.key_hash,
        ApiKey.last_used_at,
        User.id.label("user_id"),
        User.username,
        User.api_concurrency_slots,
    )
    .join(User, ApiKey.user_id == User.id)
    .where(ApiKey.key_hash == bindparam("digest"))
)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and the key they used."""

    user_id: str
    username: str
    api_key_id: str
    api_concurrency_slots: int


@dataclass(frozen=True)
class Identified:
    principal: Principal
    stale: bool  # the key's last-used time is older than its resolution: mark_used it


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    webhook_url: str | None


@dataclass(frozen=True)
class NewKey:
    info: KeyInfo
    secret: str
    # Standard Webhooks secret (whsec_...) that signs this key's webhooks; None when it has no webhook URL.
    signing_secret: str | None = None


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.key_hint, row.created_at, row.last_used_at, row.webhook_url)


class Accounts:
    def __init__(self, db: Database, files: FileStore, max_keys_per_user: int = 10) -> None:
        self._db = db
        self._files = files
        self._max_keys = max_keys_per_user

    def create_user(self, username: str) -> tuple[str, NewKey]:
        username = username.strip()
        if not username:
            raise InvalidRequest("the user name is empty; give a name such as alice")
        with self._db.session() as s:
            if s.scalar(select(User).where(User.username == username)):
                raise InvalidRequest(f"user {username!r} already exists; pick another name")
            user = User(id=str(uuid.uuid4()), username=username)
            s.add(user)
        return user.id, self.create_key(username, name="default")

    def _user_by_name(self, username: str) -> User:
        with self._db.session() as s:
            user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user named {username!r}")
        return user

    def delete_user(self, username: str) -> str:
        """Remove the user's rows (cascading to keys, generations, images) and every file, for good."""
        user = self._user_by_name(username)
        with self._db.session() as s:
            s.delete(s.get(User, user.id))
        self._files.delete_prefix(user_files_prefix(user.id))
        return user.id

    def create_key(
        self, username: str, name: str = "", webhook_url: str | None = None, webhook_key: str | None = None
    ) -> NewKey:
        """A production key; with a webhook URL, also a signing secret (both shown only once)."""
        signing_secret = None
        if webhook_url is not None and webhook_url.strip():
            webhook_url = validate_webhook_url(webhook_url)
            signing_secret = new_signing_secret()
        elif webhook_key:
            raise InvalidRequest(
                "webhook_key is sent with each webhook, so it needs webhook_url too; send both or neither",
                field="webhook_url",
            )
        user = self._user_by_name(username)
        secret = str(uuid.uuid4())  # Leonardo's keys are UUIDs; scripts that check the shape keep working
        with self._db.session() as s:
            count = s.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.user_id == user.id)) or 0
            if count >= self._max_keys:
                raise LimitExceeded(
                    f"user {username!r} already has {count} API keys, the most allowed is {self._max_keys}; "
                    "revoke one first (sfumato keys list / sfumato keys revoke KEY_ID)"
                )
            row = ApiKey(
                id=str(uuid.uuid4()),
                user_id=user.id,
                name=name,
                key_hash=hash_key(secret),
                key_hint=secret[:4] + "…" + secret[-4:],
                webhook_url=webhook_url or None,
                webhook_key=webhook_key or None,
                signing_secret=signing_secret,
            )
            s.add(row)
        return NewKey(_info(row), secret, signing_secret)

    def list_keys(self, username: str) -> list[KeyInfo]:
        user = self._user_by_name(username)
        with self._db.session() as s:
            rows = s.scalars(select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.created_at))
            return [_info(r) for r in rows]

    @property
    def max_keys(self) -> int:
        return self._max_keys

    def revoke_own_key(self, username: str, key_id: str) -> None:
        """Revoke one of `username`'s keys (the web app: a user deletes only their own)."""
        user = self._user_by_name(username)
        with self._db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None or row.user_id != user.id:
                raise NotFound(f"you have no API key with id {key_id!r}; reload the page to see your keys")
            s.delete(row)

    def revoke_key(self, key_id: str) -> None:
        with self._db.session() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"no API key with id {key_id!r}; `sfumato keys list --user NAME` shows the ids")
            s.delete(row)

    def authenticate(self, secret: str | None) -> Principal:
        """identify and, when due, mark_used: for callers without an event loop to keep writes off."""
        found = self.identify(secret)
        if found.stale:
            self.mark_used(found.principal.api_key_id)
        return found.principal

    def identify(self, secret: str | None) -> Identified:
        """The caller of a key, read only: `stale` says its last-used time is due a `mark_used` (a write, which the
        HTTP layer keeps off its event loop while it may run this read on it)."""
        if not secret:
            raise Unauthorized("Authentication hook unauthorized this request")
        digest = hash_key(secret.strip())
        with self._db.read() as connection:
            # The key and its user in one Core query: every request of every client comes through here.
            row = connection.execute(_KEY_LOOKUP, {"digest": digest}).first()
        # compare_digest keeps the check constant-time even though the lookup is by hash.
        if row is None or not hmac.compare_digest(row.key_hash, digest):
            raise Unauthorized("Authentication hook unauthorized this request")
        last = row.last_used_at
        stale = last is None or datetime.now(UTC) - last.replace(tzinfo=last.tzinfo or UTC) > _LAST_USED_RESOLUTION
        return Identified(Principal(row.user_id, row.username, row.key_id, row.api_concurrency_slots), stale)

    def mark_used(self, key_id: str) -> None:
        with self._db.session() as s:
            s.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC)))
