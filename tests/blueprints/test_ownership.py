"""An execution is its user's: another user's id answers what a missing id does, and deleting the user removes
the execution, its steps, what they made and the init images fetched for it."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sfumato.testing.live_server import LiveServer, cli_json
from tests.blueprints.support import RESTYLE_V1, wait_execution


def rows_naming(server: LiveServer, needle: str) -> dict[str, int]:
    hits: dict[str, int] = {}
    with sqlite3.connect(Path(server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in db.execute(f'SELECT * FROM "{table}"'):  # noqa: S608 (names from sqlite_master)
                if any(needle in str(v) for v in row if v is not None):
                    hits[table] = hits.get(table, 0) + 1
    return hits


def test_another_users_execution_is_a_missing_one_and_deleting_the_user_removes_it(
    bp_server: LiveServer, image_host: str
) -> None:
    owner = bp_server.client("bp-owner")
    node_inputs = [{"nodeId": "image", "settingName": "imageUrl", "value": f"{image_host}/red.png"}]
    body = {"blueprintVersionId": RESTYLE_V1, "input": {"nodeInputs": node_inputs, "public": False}}
    execution_id = owner.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
    assert wait_execution(owner, execution_id)["status"] == "COMPLETED"

    stranger = bp_server.client("bp-stranger")
    missing = str(uuid.uuid4())
    for path in ("/blueprint-executions/{}", "/blueprint-executions/{}/generations"):
        theirs, nobody = stranger.get(path.format(execution_id)), stranger.get(path.format(missing))
        assert theirs.status_code == nobody.status_code == 404
        assert theirs.json()["error"].replace(execution_id, "X") == nobody.json()["error"].replace(missing, "X")

    user_id = bp_server.user("bp-owner")["user_id"]
    before = rows_naming(bp_server, user_id)
    for table in ("blueprint_executions", "blueprint_steps", "init_images", "generations"):
        assert before.get(table), (table, before)
    cli_json(bp_server.env, "users", "delete", "bp-owner")
    assert rows_naming(bp_server, user_id) == {}
    assert rows_naming(bp_server, execution_id) == {}
    files = [p for p in (Path(bp_server.env["SFUMATO_DATA_DIR"]) / "files").rglob("*") if user_id in str(p)]
    assert files == []
