"""A version's `cost` is what running it charges: each step's job is charged by its own service (credits), and
the balance falls by the version's cost, to the credit."""

from __future__ import annotations

from sfumato.testing.live_server import LiveServer, cli
from tests.blueprints.support import CUTOUT, wait_execution


def test_running_a_version_charges_its_cost(bp_server: LiveServer) -> None:
    client = bp_server.client("bp-payer")
    cli(bp_server.env, "users", "set", "bp-payer", "--credits", "1000")
    version = client.get(f"/blueprints/{CUTOUT}/versions").json()["blueprintVersions"]["edges"][0]["node"]
    assert version["cost"] > 0
    body = {"blueprintVersionId": version["akUUID"], "input": {"nodeInputs": [], "public": False}}
    execution_id = client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
    assert wait_execution(client, execution_id)["status"] == "COMPLETED"
    me = client.get("/me").json()["user_details"][0]
    assert me["apiPaidTokens"] == 1000 - version["cost"], (me, version["cost"])
    # A balance that cannot pay the first step refuses the execution, the node named, and keeps nothing.
    cli(bp_server.env, "users", "set", "bp-payer", "--credits", "0")
    body = {"blueprintVersionId": "b283a447-bbde-4522-a8e0-12c7025fea32", "input": {"nodeInputs": [], "public": False}}
    answer = client.post("/blueprint-executions", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"].startswith("node 'generate' (generate): "), answer.text
    user_id = bp_server.user("bp-payer")["user_id"]
    assert len(client.get(f"/generations/user/{user_id}").json()["generations"]) == 1  # the paid run's only
