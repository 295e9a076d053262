"""Shared by the job tests: an engine that makes plain images at once (these tests are about rows and
messages, not pixels), a dispatcher that records, and the services on a scratch PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from sfumato.engine.types import GenerateRequest, GenerateResult
from sfumato.jobs.dispatch import Dispatcher, JobKind
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.generations import Generations
from sfumato.services.variations import Variations
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from tests.scaleout.harness import scratch_database
from tests.support import TINY_MODEL_ID


class FlatEngine:
    """Plain images at once: these tests are about the rows, not the pixels."""

    def generate(self, request: GenerateRequest, progress=None) -> GenerateResult:  # type: ignore[no-untyped-def]
        return GenerateResult([Image.new("RGB", (request.width, request.height), "red")] * request.num_images)

    def remove_background(self, image: Image.Image) -> tuple[Image.Image, str]:
        return image.convert("RGBA"), "flat"


class Recorder:
    def __init__(self) -> None:
        self.jobs: list[tuple[JobKind, str]] = []

    def submit(self, kind: JobKind, job_id: str) -> None:
        self.jobs.append((kind, job_id))

    def start(self) -> None: ...
    def stop(self) -> None: ...


@contextmanager
def job_world(tmp_path: Path, catalog_dir: Path, make_dispatcher: Callable[[Database], Dispatcher]) -> Iterator[dict]:
    """A user "u" and the services, on a fresh PostgreSQL database (row locks are real there)."""
    with scratch_database("sfumato_jobs") as url:
        db = Database(url)
        db.upgrade()
        dispatcher = make_dispatcher(db)
        files = LocalFileStore(tmp_path / "files")
        user_id, _ = Accounts(db, files).create_user("u")
        generations = Generations(db, files, Catalog(db, TINY_MODEL_ID, catalog_dir), dispatcher)
        variations = Variations(db, dispatcher)
        try:
            yield {"db": db, "files": files, "user": user_id, "generations": generations, "variations": variations}
        finally:
            db.dispose()
