"""Object storage for images. The local-disk store is the embedded default; an S3 store can implement
the same small interface later. Keys look like `users/{user_id}/generations/{generation_id}/{image_id}.png`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol


def user_files_prefix(user_id: str) -> str:
    return f"users/{user_id}/"


def training_prefix(user_id: str, training_id: str) -> str:
    """A custom model's or element's files: its LoRA."""
    return f"{user_files_prefix(user_id)}trainings/{training_id}/"


def dataset_prefix(user_id: str, dataset_id: str) -> str:
    return f"{user_files_prefix(user_id)}datasets/{dataset_id}/"


def generation_files_prefix(user_id: str, generation_id: str) -> str:
    return f"{user_files_prefix(user_id)}generations/{generation_id}/"


def image_file_key(user_id: str, generation_id: str, image_id: str) -> str:
    return f"{generation_files_prefix(user_id, generation_id)}{image_id}.png"


def motion_variation_file_key(user_id: str, generation_id: str, variation_id: str) -> str:
    return f"{generation_files_prefix(user_id, generation_id)}motion-variations/{variation_id}.mp4"


def video_file_key(user_id: str, generation_id: str, image_id: str) -> str:
    """A motion generation's MP4, beside its poster image (same id, same prefix: deleted together)."""
    return f"{generation_files_prefix(user_id, generation_id)}{image_id}.mp4"


class FileStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def local_path(self, key: str) -> Path | None: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...
    def count(self, prefix: str = "") -> int: ...
    def check(self) -> None:
        """Raise (saying why) unless the store can be written now: readiness probes call it."""
        ...


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are built by us, but a key must never escape the root whatever it contains.
        if self.root not in path.parents:
            raise ValueError(f"file key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write atomically: a reader sees the whole old file or the whole new one, never half of it."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    def check(self) -> None:
        if not self.root.is_dir():
            raise OSError(f"the file store's folder {self.root} is missing")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"the file store's folder {self.root} is not writable by this process")

    def count(self, prefix: str = "") -> int:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return 0
        return sum(1 for p in base.rglob("*") if p.is_file())


def local_copy(files: FileStore, key: str, cache_dir: Path) -> Path:
    """A file as a local path: the file itself on local disk, else a copy cached by key (object storage), written
    whole before it is renamed into place, so a reader never sees half a file."""
    local = files.local_path(key)
    if local is not None:
        if not local.is_file():
            raise FileNotFoundError(key)
        return local
    target = cache_dir / key
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(files.get(key))
        tmp.replace(target)
    return target
