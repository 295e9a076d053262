"""The key lookup every request makes: a read that may run on the HTTP event loop (SQLite), and the last-used
write it asks for, which never does (api/deps.principal)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.services.accounts import Accounts
from sfumato.services.errors import Unauthorized
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore


def test_identify_reads_and_asks_for_the_last_used_write(db: Database, tmp_path: Path) -> None:
    accounts = Accounts(db, LocalFileStore(tmp_path / "files"))
    user_id, key = accounts.create_user("alice")
    first = accounts.identify(f"  {key.secret} ")
    assert (first.principal.user_id, first.principal.api_key_id, first.stale) == (user_id, key.info.id, True)
    assert accounts.list_keys("alice")[0].last_used_at is None  # identify itself writes nothing
    accounts.mark_used(key.info.id)
    assert accounts.list_keys("alice")[0].last_used_at is not None
    assert accounts.identify(key.secret).stale is False  # within the minute: no write per request
    for wrong in ("", None, key.secret + "x"):
        with pytest.raises(Unauthorized):
            accounts.identify(wrong)


def test_only_a_local_sqlite_file_reads_inline(db: Database, database_url: str) -> None:
    assert db.is_local is database_url.startswith("sqlite")
