"""A bad override is refused before anything runs: a 400 whose message names the node and the field and says what
to send instead (the Python SDK raises it as its typed ExecuteBlueprint error); nothing is kept."""

from __future__ import annotations

from typing import Any

import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import errors

from sfumato.testing.live_server import LiveServer
from tests.blueprints.support import CUTOUT_V1, QUICK_V1, RESTYLE_V1


def execute(server: LiveServer, version: str, node_inputs: list[dict[str, Any]], user: str = "bp-alice") -> Any:
    client = server.client(user)
    return client.post(
        "/blueprint-executions",
        json={"blueprintVersionId": version, "input": {"nodeInputs": node_inputs, "public": False}},
    )


CASES = [
    # (version, node inputs, words the message must hold)
    (QUICK_V1, [{"nodeId": "nope", "settingName": "text", "value": "x"}],
     ["nodeInputs[0].nodeId", "'nope'", "generate (generate)"]),
    (CUTOUT_V1, [{"nodeId": "upscale", "settingName": "text", "value": "x"}],
     ["node 'upscale' (upscale) has no setting 'text'", "it takes no inputs", "generate (text, textVariables)"]),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "imageUrl", "value": "https://example.com/a.png"}],
     ["node 'generate' (generate) has no setting 'imageUrl'", "it takes text or textVariables"]),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "text", "value": 5}],
     ["nodeInputs[0].value", "node 'generate' text takes a string, got int", 'send "value": "a red star"']),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "textVariables", "value": "red"}],
     ["node 'generate' textVariables takes a list of {name, value}", "its variables: subject, background"]),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "textVariables", "value": [{"name": "colour", "value": "x"}]}],
     ["node 'generate' has no variable 'colour'", "its variables are subject, background"]),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "text", "value": "x" * 1501}],
     ["node 'generate' text is 1501 characters", "the most is 1500"]),
    (QUICK_V1, [{"nodeId": "generate", "settingName": "text", "value": "a"},
                {"nodeId": "generate", "settingName": "text", "value": "b"}],
     ["node 'generate' text is given twice"]),
    (RESTYLE_V1, [], ["node 'image' (image_input) needs an image", '"settingName": "imageUrl"']),
    ("not-a-version", [],
     ["blueprintVersionId 'not-a-version' is not a blueprint version", "GET /blueprints/{id}/versions"]),
]  # fmt: skip


@pytest.mark.parametrize(("version", "node_inputs", "words"), CASES)
def test_a_bad_override_is_a_400_naming_the_node_and_the_field(
    bp_server: LiveServer, version: str, node_inputs: list[dict[str, Any]], words: list[str]
) -> None:
    answer = execute(bp_server, version, node_inputs)
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]
    for word in words:
        assert word in message, (word, message)


def test_a_refused_execution_keeps_nothing(bp_server: LiveServer) -> None:
    client, user_id = bp_server.client("bp-alice"), bp_server.user("bp-alice")["user_id"]
    before = client.get(f"/generations/user/{user_id}", params={"limit": 1000}).json()["generations"]
    answer = execute(bp_server, QUICK_V1, [{"nodeId": "nope", "settingName": "text", "value": "x"}])
    assert answer.status_code == 400
    assert client.get(f"/generations/user/{user_id}", params={"limit": 1000}).json()["generations"] == before


def test_the_python_sdk_raises_its_typed_error_with_the_message(bp_server: LiveServer) -> None:
    client = LeonardoAiSDK(bearer_auth=bp_server.user("bp-alice")["api_key"], server_url=bp_server.api_url)
    body = {
        "blueprintVersionId": CUTOUT_V1,
        "input": {"nodeInputs": [{"nodeId": "upscale", "settingName": "text", "value": "x"}], "public": False},
    }
    with pytest.raises(errors.ExecuteBlueprintResponseBody) as refused:
        client.blueprints.execute_blueprint(request=body)
    assert "node 'upscale' (upscale) has no setting 'text'" in refused.value.data.error


def test_missing_parts_of_the_body_are_400s(bp_server: LiveServer) -> None:
    client = bp_server.client("bp-alice")
    no_version = client.post("/blueprint-executions", json={"input": {"nodeInputs": [], "public": False}})
    assert no_version.status_code == 400 and "blueprintVersionId" in no_version.json()["error"]
    no_input = client.post("/blueprint-executions", json={"blueprintVersionId": QUICK_V1})
    assert no_input.status_code == 400 and "input.nodeInputs" in no_input.json()["error"]
    empty = client.post("/blueprint-executions", content=b"")
    assert empty.status_code == 400 and "blueprintVersionId" in empty.json()["error"]
    bad_cursor = client.get("/blueprints", params={"after": "zzz"})
    assert bad_cursor.status_code == 400 and "after 'zzz' is not a cursor" in bad_cursor.json()["error"]
    too_many = client.request("GET", "/blueprints", json={"first": 1000})
    assert too_many.status_code == 400 and "first must be an integer from 0 to 100" in too_many.json()["error"]
