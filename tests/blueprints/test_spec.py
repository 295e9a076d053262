"""The served OpenAPI spec describes the blueprint operations as they answer: each real response validates against
the schema the spec declares, refusals are documented, and GET /blueprints documents its JSON body."""

from __future__ import annotations

import httpx
import jsonschema

from sfumato.testing.live_server import API, LiveServer
from tests.blueprints.support import QUICK, QUICK_V1, wait_execution


def test_blueprint_responses_validate_against_the_served_spec(bp_server: LiveServer) -> None:
    spec = httpx.get(bp_server.base_url + "/openapi.json").json()

    def check(method: str, path: str, body: dict) -> None:
        operation = spec["paths"][API + path][method]
        documented = {"400", "401", "404"} if "{" in path else {"400", "401"}
        assert documented <= set(operation["responses"]), (path, operation["responses"].keys())
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": spec["components"]}, cls=jsonschema.Draft202012Validator)

    client = bp_server.client("bp-alice")
    check("get", "/blueprints", client.get("/blueprints").json())
    check("get", "/blueprints/{id}", client.get(f"/blueprints/{QUICK}").json())
    check("get", "/blueprints/{id}/versions", client.get(f"/blueprints/{QUICK}/versions").json())
    started = client.post(
        "/blueprint-executions", json={"blueprintVersionId": QUICK_V1, "input": {"nodeInputs": [], "public": False}}
    ).json()
    check("post", "/blueprint-executions", started)
    execution_id = started["executeBlueprint"]["akUUID"]
    wait_execution(client, execution_id)
    check("get", "/blueprint-executions/{id}", client.get(f"/blueprint-executions/{execution_id}").json())
    made = client.get(f"/blueprint-executions/{execution_id}/generations").json()
    check("get", "/blueprint-executions/{id}/generations", made)
    listing = spec["paths"][API + "/blueprints"]["get"]
    body = listing["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:  # a named component (#/components/schemas/ListBlueprintsBody)
        body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert set(body["properties"]) >= {"first", "after"}
    execute = spec["paths"][API + "/blueprint-executions"]["post"]["requestBody"]
    assert execute["required"] is True
