"""Blueprints through the official Python SDK against the live server: list, read, execute a built-in one end to
end (its steps are ordinary jobs), follow it to COMPLETED, list and fetch what it made."""

from __future__ import annotations

import io
import time
from datetime import datetime

import httpx
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import errors, operations, shared
from PIL import Image

from sfumato.testing.live_server import LiveServer
from tests.blueprints.support import (
    CUTOUT,
    CUTOUT_V1,
    FAILING,
    MOTION_V1,
    QUICK,
    QUICK_V1,
    RESTYLE,
)


def sdk(server: LiveServer, user: str = "bp-alice") -> LeonardoAiSDK:
    return LeonardoAiSDK(bearer_auth=server.user(user)["api_key"], server_url=server.api_url)


def finished(client: LeonardoAiSDK, execution_id: str, timeout: float = 180) -> operations.BlueprintExecution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ex = client.blueprints.get_blueprint_execution(id=execution_id).one_of.blueprint_execution
        assert ex is not None, "the SDK could not parse blueprintExecution"
        if ex.status in ("COMPLETED", "FAILED"):
            return ex
        time.sleep(0.3)
    raise AssertionError("the execution did not finish")


def made(client: LeonardoAiSDK, execution_id: str, **paging: int) -> list[shared.BlueprintExecutionGenerationEdge]:
    answer = client.blueprints.get_blueprint_execution_generations(request={"id": execution_id, **paging})
    connection = answer.object.blueprint_execution_generations
    assert connection is not None, "the SDK could not parse blueprintExecutionGenerations"
    return connection.edges


def png(url: str) -> Image.Image:
    answer = httpx.get(url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("image/"), url
    return Image.open(io.BytesIO(answer.content))


def test_list_blueprints_pages_with_cursors_in_a_get_body(bp_server: LiveServer) -> None:
    client = sdk(bp_server)
    one = client.blueprints.list_blueprints(request={"first": 2}).one_of.blueprints
    assert len(one.edges) == 2 and one.total_count == 6  # four built in, two from the operator's folder
    assert one.page_info.has_next_page and not one.page_info.has_previous_page
    rest = client.blueprints.list_blueprints(request={"first": 10, "after": one.page_info.end_cursor}).one_of
    ids = [e.node.ak_uuid for e in one.edges + rest.blueprints.edges]
    assert len(ids) == 6 == len(set(ids)) and {CUTOUT, RESTYLE, QUICK, FAILING} <= set(ids)
    assert not rest.blueprints.page_info.has_next_page and rest.blueprints.page_info.has_previous_page
    first = one.edges[0].node
    assert isinstance(first.created_at, datetime) and first.official is True and first.name
    # No body at all (the SDK sends none without a request): the first page.
    assert len(client.blueprints.list_blueprints().one_of.blueprints.edges) == 6
    # Category filter (case-insensitive); the operator's blueprints are not official.
    test_only = client.blueprints.list_blueprints(request={"categories": ["test"]}).one_of.blueprints.edges
    assert [e.node.ak_uuid for e in test_only] == [FAILING] and test_only[0].node.official is False


def test_blueprint_and_its_versions_describe_their_inputs(bp_server: LiveServer) -> None:
    client = sdk(bp_server)
    bp = client.blueprints.get_blueprint_by_id(id=CUTOUT).one_of.blueprint
    assert bp.ak_uuid == CUTOUT and bp.name == "Cutout, upscaled" and bp.official
    versions = client.blueprints.get_blueprint_versions_by_blueprint_id(id=CUTOUT).one_of.blueprint_versions
    assert versions.total_count == 1
    node = versions.edges[0].node
    assert node.ak_uuid == CUTOUT_V1 and node.executability.is_executable
    assert isinstance(node.created_at, datetime)
    assert len(node.ui_metadata.inputs) == 2 and len(node.ui_metadata.outputs) == 1  # the SDK keeps no keys of them
    raw = bp_server.client("bp-alice").get(f"/blueprints/{CUTOUT}/versions").json()["blueprintVersions"]
    meta = raw["edges"][0]["node"]["uiMetadata"]
    assert {(i["nodeId"], i["settingName"]) for i in meta["inputs"]} == {
        ("generate", "text"),
        ("generate", "textVariables"),
    }
    assert [v["name"] for v in meta["inputs"][1]["variables"]] == ["subject"]
    assert [o["nodeId"] for o in meta["outputs"]] == ["remove_background"]
    assert node.models  # the default model's id
    with pytest.raises(errors.SDKError) as missing:
        client.blueprints.get_blueprint_by_id(id="00000000-0000-4000-8000-000000000000")
    assert missing.value.status_code == 404


def test_a_builtin_blueprint_runs_end_to_end(bp_server: LiveServer) -> None:
    """generate -> upscale -> remove background: three ordinary jobs, one after the other."""
    client = sdk(bp_server)
    answer = client.blueprints.execute_blueprint(
        request={
            "blueprintVersionId": CUTOUT_V1,
            "input": {
                "nodeInputs": [
                    {
                        "nodeId": "generate",
                        "settingName": "textVariables",
                        "value": [{"name": "subject", "value": "green heart"}],
                    }
                ],
                "public": False,
            },
        }
    )  # fmt: skip
    execution_id = answer.one_of.execute_blueprint.ak_uuid
    ex = finished(client, execution_id)
    assert ex.status == "COMPLETED", bp_server.log_path.read_text()[-3000:]
    assert ex.inputs[0].node_id == "generate" and ex.inputs[0].setting_name == "textVariables"
    assert ex.inputs[0].value[0].name == "subject" and ex.inputs[0].value[0].value == "green heart"
    made = client.blueprints.get_blueprint_execution_generations(request={"id": execution_id})
    edges = made.object.blueprint_execution_generations.edges
    assert len(edges) == 1 and edges[0].node.status == "COMPLETED"
    gen = client.image.get_generation_by_id(id=edges[0].node.generation_id).object.generations_by_pk
    assert gen.status == "COMPLETE" and gen.prompt == "a green heart in the center on a white background"
    [image] = gen.generated_images
    assert png(image.url).size == (256, 256)
    variations = {v.transform_type: v for v in image.generated_image_variation_generics}
    assert set(variations) == {"NOBG", "UPSCALE"}
    assert all(v.status == "COMPLETE" for v in variations.values())
    assert png(variations["UPSCALE"].url).size == (512, 512)
    cutout = png(variations["NOBG"].url)  # of the upscale (the variation the step before made), not of the image
    assert cutout.mode == "RGBA" and cutout.size == (512, 512)
    assert cutout.getpixel((0, 0))[3] == 0 and cutout.getchannel("A").getextrema()[1] > 0  # the border is gone
    # Each step ran its own job, one after the other.
    raw = bp_server.client("bp-alice").get(f"/blueprint-executions/{execution_id}").json()["blueprintExecution"]
    steps = [(s["nodeId"], s["status"], s.get("generationId") or s.get("variationId")) for s in raw["steps"]]
    assert steps == [
        ("generate", "COMPLETE", gen.id),
        ("upscale", "COMPLETE", variations["UPSCALE"].id),
        ("remove_background", "COMPLETE", variations["NOBG"].id),
    ]


def test_a_text_override_changes_the_prompt(bp_server: LiveServer) -> None:
    client = sdk(bp_server)
    text = {"nodeId": "generate", "settingName": "text", "value": "a yellow diamond on a purple background"}
    body = {"blueprintVersionId": QUICK_V1, "input": {"nodeInputs": [text], "public": True}}
    execution_id = client.blueprints.execute_blueprint(request=body).one_of.execute_blueprint.ak_uuid
    ex = finished(client, execution_id)
    assert ex.status == "COMPLETED" and ex.public is True
    [edge] = made(client, execution_id, first=5)
    gen = client.image.get_generation_by_id(id=edge.node.generation_id).object.generations_by_pk
    assert gen.prompt == "a yellow diamond on a purple background" and gen.public is True
    # Without the override, the file's template with its default variables.
    plain = client.blueprints.execute_blueprint(
        request={"blueprintVersionId": QUICK_V1, "input": {"nodeInputs": [], "public": False}}
    ).one_of.execute_blueprint.ak_uuid
    assert finished(client, plain).status == "COMPLETED"
    [edge] = made(client, plain)
    gen = client.image.get_generation_by_id(id=edge.node.generation_id).object.generations_by_pk
    assert gen.prompt == "a red circle on a blue background"


def test_prompt_to_motion_makes_a_video(bp_server: LiveServer) -> None:
    client = sdk(bp_server)
    body = {"blueprintVersionId": MOTION_V1, "input": {"nodeInputs": [], "public": False}}
    execution_id = client.blueprints.execute_blueprint(request=body).one_of.execute_blueprint.ak_uuid
    assert finished(client, execution_id).status == "COMPLETED"
    edges = client.blueprints.get_blueprint_execution_generations(request={"id": execution_id}).object
    image_gen, motion_gen = (e.node.generation_id for e in edges.blueprint_execution_generations.edges)
    video = client.image.get_generation_by_id(id=motion_gen).object.generations_by_pk.generated_images[0]
    assert video.motion_mp4_url and httpx.get(video.motion_mp4_url).content[4:8] == b"ftyp"
    source = client.image.get_generation_by_id(id=image_gen).object.generations_by_pk.generated_images[0]
    assert video.id != source.id


def test_a_failed_step_fails_the_execution_with_its_reason(bp_server: LiveServer) -> None:
    client = sdk(bp_server)
    body = {"blueprintVersionId": "9a7e1c52-5b0e-4d7c-9d0e-2f3a4b5c6d70", "input": {"nodeInputs": [], "public": False}}
    execution_id = client.blueprints.execute_blueprint(request=body).one_of.execute_blueprint.ak_uuid
    ex = finished(client, execution_id)
    assert ex.status == "FAILED"
    raw = bp_server.client("bp-alice").get(f"/blueprint-executions/{execution_id}").json()["blueprintExecution"]
    assert raw["failureReason"].startswith("node 'second' (generate) failed: ")
    assert [s["status"] for s in raw["steps"]] == ["COMPLETE", "FAILED"]
    edges = client.blueprints.get_blueprint_execution_generations(request={"id": execution_id}).object
    assert [e.node.status for e in edges.blueprint_execution_generations.edges] == ["COMPLETED", "FAILED"]
    failed = client.image.get_generation_by_id(id=edges.blueprint_execution_generations.edges[1].node.generation_id)
    reason = failed.object.generations_by_pk
    assert reason.status == "FAILED"
    assert raw["steps"][1]["failureReason"] in raw["failureReason"]
