"""The training tables on SQLite and PostgreSQL: element ids are integers that only grow (also when several
are made at once), a user's datasets, trainings and element ids go with the user, and the migrated schema is
exactly the models' (no drift between store/training.py and migration 0010)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from sfumato.store import media, training, workers  # noqa: F401 (every table on the metadata)
from sfumato.store.database import Database
from sfumato.store.models import Base, User
from sfumato.store.training import Dataset, ElementNumber, Training


def _training(user_id: str) -> Training:
    return Training(
        id=str(uuid.uuid4()), user_id=user_id, target="element", name="e", dataset_id="d", image_keys=[],
        base_model_id="m", base_model_path="/m", sd_version="v1_5", resolution=1024, settings={},
    )  # fmt: skip


def test_element_ids_are_distinct_growing_integers(db: Database) -> None:
    with db.session() as s:
        s.add(User(id="u", username="u"))

    def make(_: int) -> int:
        with db.session() as s:
            row = _training("u")
            s.add(row)
            s.flush()
            number = ElementNumber(training_id=row.id, user_id="u")
            s.add(number)
            s.flush()
            return number.id

    first = make(0)
    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(make, range(12)))
    assert isinstance(first, int) and len(set(numbers)) == 12 and min(numbers) > first


def test_a_users_training_rows_go_with_the_user(db: Database) -> None:
    with db.session() as s:
        s.add_all([User(id="gone", username="gone"), User(id="kept", username="kept")])
        for user in ("gone", "kept"):
            s.add(Dataset(id=str(uuid.uuid4()), user_id=user, name="d"))
            row = _training(user)
            s.add(row)
            s.flush()
            s.add(ElementNumber(training_id=row.id, user_id=user))
    with db.session() as s:
        s.delete(s.get(User, "gone"))
    with db.session() as s:
        for table in (Dataset, Training, ElementNumber):
            assert s.scalar(select(func.count()).select_from(table).where(table.user_id == "gone")) == 0
            assert s.scalar(select(func.count()).select_from(table).where(table.user_id == "kept")) == 1


TRAINING_TABLES = {"datasets", "dataset_images", "trainings", "element_numbers"}


def _table_of(change: object) -> str | None:
    """The table an autogenerate difference is about (a tuple, or a list of them for column changes)."""
    item = change[0] if isinstance(change, list) else change
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else part
        table = getattr(getattr(part, "table", None), "name", None)
        if table or name in TRAINING_TABLES or name == "generations":
            return table or name
    return None


def test_the_migrated_training_schema_is_the_models_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    ours = [d for d in diff if _table_of(d) in TRAINING_TABLES or "adapters" in repr(d)]
    assert ours == [], ours
