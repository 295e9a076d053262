"""An execution's state is in the database: a server killed (SIGKILL) while a step's job is pending finishes the
execution after it starts again (the job runs again, the next steps are made then)."""

from __future__ import annotations

from pathlib import Path

from sfumato.testing.live_server import LiveServer, free_port, server_env
from tests.blueprints.support import CUTOUT_V1, wait_execution


def test_sigkill_mid_execution_then_restart_completes_it(tiny_catalog: Path, tmp_path: Path) -> None:
    server = LiveServer(server_env(tmp_path / "data", tiny_catalog), free_port(), tmp_path / "server.log")
    server.start()
    try:
        with server.client("bp-restart") as client:
            body = {"blueprintVersionId": CUTOUT_V1, "input": {"nodeInputs": [], "public": False}}
            execution_id = client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
            ex = client.get(f"/blueprint-executions/{execution_id}").json()["blueprintExecution"]
        # The worker is still importing torch for the first job: the first step runs, the others wait.
        assert ex["status"] == "QUEUED" and [s["status"] for s in ex["steps"]] == ["RUNNING", "WAITING", "WAITING"]
        server.kill()
        server.port = free_port()
        server.start()
        with server.client("bp-restart") as client:
            done = wait_execution(client, execution_id)
        assert done["status"] == "COMPLETED", done
        assert [s["status"] for s in done["steps"]] == ["COMPLETE", "COMPLETE", "COMPLETE"]
        assert done["steps"][2]["variationId"] and done["steps"][2]["outputKind"] == "variation"
    finally:
        server.stop()
