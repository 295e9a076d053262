"""The local file store writes atomically and never leaves a key's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfumato.store.files import LocalFileStore


def test_put_replaces_whole_files_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    store.put("users/u/a.png", b"old")
    store.put("users/u/a.png", b"new contents")
    assert store.get("users/u/a.png") == b"new contents"
    assert [p.name for p in (tmp_path / "users" / "u").iterdir()] == ["a.png"]


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalFileStore(tmp_path)
    store.put("k/a.png", b"complete")

    def broken_fsync(_: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put("k/a.png", b"half")
    assert store.get("k/a.png") == b"complete"
    assert store.count() == 1


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "root")
    for key in ("../outside.png", "users/../../x", "/etc/passwd"):
        with pytest.raises(ValueError, match="escapes"):
            store.put(key, b"x")


def test_delete_prefix_and_count(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    for key in ("users/a/g1/1.png", "users/a/g1/2.png", "users/a/g2/1.png", "users/b/g3/1.png"):
        store.put(key, b"x")
    assert store.count("users/a") == 3
    store.delete_prefix("users/a/g1/")
    assert store.count("users/a") == 1 and store.count() == 2
    store.delete_prefix("users/missing/")  # nothing to delete is fine
    assert store.local_path("users/b/g3/1.png") is not None and store.local_path("users/b/nope.png") is None
