"""Shared by the job tests: an engine that makes plain images at once (these tests are about rows and
messages, not pixels), a dispatcher that records, and the services on a scratch PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sfumato.jobs.dispatch import Dispatcher
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.generations import Generations
from sfumato.services.variations import Variations
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.testing.jobs import FlatEngine, RecordingDispatcher
from tests.scaleout.harness import scratch_database
from tests.support import TINY_MODEL_ID

# The fakes live in the package (sfumato.testing.jobs), so benchmarks can use them too.
Recorder = RecordingDispatcher
__all__ = ["FlatEngine", "Recorder", "job_world"]


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
