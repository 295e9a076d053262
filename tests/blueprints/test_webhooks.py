"""A step's job is an ordinary job: the key that ran the execution gets its usual webhooks, one per step's job
(a generation's `image_generation.complete`, then the variations'), as if it had asked for each itself."""

from __future__ import annotations

import httpx

from sfumato.testing.live_server import LiveServer, free_port
from tests.blueprints.support import CUTOUT_V1, wait_execution
from tests.webhooks.support import Receiver, webhook_key


def test_each_steps_job_sends_its_webhook(bp_server: LiveServer) -> None:
    receiver = Receiver(free_port()).start()
    try:
        key = webhook_key(bp_server, "bp-alice", receiver.url)
        client = httpx.Client(base_url=bp_server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
        body = {"blueprintVersionId": CUTOUT_V1, "input": {"nodeInputs": [], "public": False}}
        execution_id = client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
        done = wait_execution(client, execution_id)
        assert done["status"] == "COMPLETED"
        generation_id = done["steps"][0]["generationId"]
        variations = {done["steps"][1]["variationId"], done["steps"][2]["variationId"]}
        receiver.wait_for(lambda r: len(r.received) >= 3, what="a webhook for each of the three jobs")
        objects = {(r.json["type"], r.json["data"]["object"]["id"]) for r in receiver.received}
        assert ("image_generation.complete", generation_id) in objects, objects
        assert {i for _, i in objects} >= variations, objects
    finally:
        receiver.stop()
