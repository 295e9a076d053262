"""An execution's state is in the database: the server killed (SIGKILL) in the middle of an execution finishes it
after it starts again (the interrupted job runs again, the steps after it are made then). The package's server is
restarted on a new port; the tests after this one use it as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sfumato.testing.live_server import LiveServer, free_port
from tests.blueprints.support import CUTOUT_V1, wait_execution


def test_sigkill_mid_execution_then_restart_completes_it(bp_server: LiveServer) -> None:
    with bp_server.client("bp-alice") as client:
        body = {"blueprintVersionId": CUTOUT_V1, "input": {"nodeInputs": [], "public": False}}
        execution_id = client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
    bp_server.kill()  # three jobs, a second or more of work: the kill lands before the last one ends
    with sqlite3.connect(Path(bp_server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
        status = db.execute("SELECT status FROM blueprint_executions WHERE id = ?", (execution_id,)).fetchone()[0]
        steps = [r[0] for r in db.execute(
            "SELECT status FROM blueprint_steps WHERE execution_id = ? ORDER BY position", (execution_id,)
        )]  # fmt: skip
    assert status == "QUEUED" and steps[-1] == "WAITING", (status, steps)
    bp_server.port = free_port()
    bp_server.start()
    with bp_server.client("bp-alice") as client:
        done = wait_execution(client, execution_id)
    assert done["status"] == "COMPLETED", done
    assert [s["status"] for s in done["steps"]] == ["COMPLETE", "COMPLETE", "COMPLETE"]
    assert done["steps"][2]["variationId"] and done["steps"][2]["outputKind"] == "variation"
