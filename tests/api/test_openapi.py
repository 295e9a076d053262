"""Our OpenAPI spec at /openapi.json matches what is served: every route is in it, and real responses
validate against the schemas it declares."""

from __future__ import annotations

import httpx
import jsonschema
import pytest

from sfumato.testing.live_server import API, LiveServer, wait_for_generation


@pytest.fixture(scope="module")
def spec(live_server: LiveServer) -> dict:
    r = httpx.get(live_server.base_url + "/openapi.json")
    assert r.status_code == 200
    return r.json()


def response_schema(spec: dict, method: str, path: str) -> dict:
    operation = spec["paths"][API + path][method]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    # Resolve $refs against the whole document.
    return {**schema, "components": spec["components"]}


def validate(spec: dict, method: str, path: str, body: dict) -> None:
    schema = response_schema(spec, method, path)
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)


def test_every_documented_operation_is_served(spec: dict) -> None:
    expected = {
        ("get", "/me"),
        ("get", "/platformModels"),
        ("get", "/models/{id}"),
        ("post", "/generations"),
        ("get", "/generations/{id}"),
        ("delete", "/generations/{id}"),
        ("get", "/generations/user/{userId}"),
    }
    served = {(m, p.removeprefix(API)) for p, ops in spec["paths"].items() for m in ops}
    assert expected <= served
    ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    assert {"createGeneration", "getGenerationById", "getUserSelf", "listPlatformModels"} <= ids
    body = spec["paths"][API + "/generations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body  # the request body is documented


def test_served_responses_validate_against_the_spec(spec: dict, live_server: LiveServer) -> None:
    client = live_server.client("spec")
    me = client.get("/me").json()
    validate(spec, "get", "/me", me)
    validate(spec, "get", "/platformModels", client.get("/platformModels").json())
    created = client.post("/generations", json={"prompt": "x", "num_images": 2, "width": 64, "height": 64}).json()
    validate(spec, "post", "/generations", created)
    gid = created["sdGenerationJob"]["generationId"]
    validate(spec, "get", "/generations/{id}", client.get(f"/generations/{gid}").json())
    wait_for_generation(client, gid)
    validate(spec, "get", "/generations/{id}", client.get(f"/generations/{gid}").json())
    user_id = me["user_details"][0]["user"]["id"]
    validate(spec, "get", "/generations/user/{userId}", client.get(f"/generations/user/{user_id}").json())
    models = client.get("/platformModels").json()["custom_models"]
    validate(spec, "get", "/models/{id}", client.get(f"/models/{models[0]['id']}").json())
    validate(spec, "delete", "/generations/{id}", client.delete(f"/generations/{gid}").json())


def test_the_spec_states_errors_required_fields_and_enums(spec: dict) -> None:
    """What api/openapi.py adds: the errors the server answers (never FastAPI's 422), required fields that
    are not nullable and not empty, enums, and 404 exactly where an id is taken."""
    ops = {(m.upper(), p.removeprefix(API)): op for p, methods in spec["paths"].items() for m, op in methods.items()}
    for (method, path), op in ops.items():
        codes = set(op["responses"])
        assert "422" not in codes and {"400", "401", "429"} <= codes, (method, path, codes)
    assert "404" in ops[("GET", "/generations/{id}")]["responses"]
    assert "404" in ops[("POST", "/generations-motion-svd")]["responses"]  # imageId is an id
    assert "404" not in ops[("GET", "/me")]["responses"]
    body = spec["components"]["schemas"]["CreateGenerationBody"]
    assert body["required"] == ["prompt"] and body["properties"]["prompt"] == {
        **body["properties"]["prompt"],
        "type": "string",
        "minLength": 1,
    }
    assert ops[("POST", "/generations")]["requestBody"]["required"] is True
    upscale = spec["components"]["schemas"]["VideoUpscaleBody"]["properties"]["resolution"]
    assert upscale["enum"] == ["RESOLUTION_720"]
    error = ops[("GET", "/generations/{id}")]["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}


def test_the_spec_states_the_ranges_and_integer_choices_the_server_enforces(spec: dict) -> None:
    schemas = spec["components"]["schemas"]

    def numeric(prop: dict) -> dict:
        return next(o for o in prop.get("anyOf", [prop]) if o.get("type") in ("integer", "number"))

    strength = numeric(schemas["MotionSvdBody"]["properties"]["motionStrength"])
    assert (strength["minimum"], strength["maximum"]) == (1, 10)
    epochs = numeric(schemas["CreateElementBody"]["properties"]["num_train_epochs"])
    assert (epochs["minimum"], epochs["maximum"]) == (1, 250)
    resolution = numeric(schemas["CreateModelBody"]["properties"]["resolution"])
    assert resolution == {"type": "integer", "enum": [512, 768]}


def test_the_spec_states_rules_across_fields_patterns_and_tolerant_booleans(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    universal = schemas["UniversalUpscalerBody"]
    one_of = next(rule["oneOf"] for rule in universal["allOf"] if "oneOf" in rule)
    assert sorted(branch["required"][0] for branch in one_of) == ["generatedImageId", "initImageId", "variationId"]
    op = spec["paths"][API + "/variations/universal-upscaler"]["post"]
    assert op["requestBody"]["required"] is True  # null or no body: "exactly one of" cannot hold
    lcm = schemas["LcmInpaintingBody"]["properties"]
    for field in ("imageDataUrl", "maskDataUrl"):
        pattern = lcm[field]["pattern"]
        assert jsonschema.Draft202012Validator({"pattern": pattern}).is_valid("data:image/png;base64,iVBORw0KGgo=")
        assert not jsonschema.Draft202012Validator({"pattern": pattern}).is_valid("0")
    assert schemas["LcmBody"]["properties"]["width"]["anyOf"][0]["multipleOf"] == 8
    public = schemas["CreateGenerationBody"]["properties"]["public"]
    validator = jsonschema.Draft202012Validator(public)
    assert all(validator.is_valid(v) for v in (True, 0, 1, "yes", "OFF", None))
    assert not any(validator.is_valid(v) for v in (2, "maybe", ""))
    element = jsonschema.Draft202012Validator({**schemas["CreateElementBody"], "components": spec["components"]})
    base = {"datasetId": "d", "num_train_epochs": 10, "learning_rate": 1e-6}
    assert element.is_valid({**base, "lora_focus": "Style"})
    assert not element.is_valid({**base, "lora_focus": "Character"})  # instance_prompt is required then
    assert element.is_valid({**base, "lora_focus": "Character", "instance_prompt": "magicdonut"})
    # POST /generations' image sources, value by value (make test's fuzzing draws from this rule with every check)
    generation = jsonschema.Draft202012Validator({**schemas["CreateGenerationBody"], "components": spec["components"]})
    canvas = {"canvasRequest": True, "canvasRequestType": "INPAINT", "canvasInitId": "c", "canvasMaskId": "m"}
    legacy = {"controlNet": True, "controlNetType": "CANNY"}
    allowed = [
        {},
        canvas,
        {**canvas, "init_strength": 0.3},
        {"init_image_id": "i", "init_strength": 0.2},
        {"init_generation_image_id": "g", **legacy},
        {"init_strength": 5},
        {"imagePromptWeight": 0.4},
        {"num_images": 8, "width": 512, "height": 768},
        {"controlnets": [{"initImageId": "i", "initImageType": " uploaded", "preprocessorId": 133.0, "weight": 1}]},
        {"elements": [{"akUUID": "a", "weight": 0.5}], "userElements": [{"userLoraId": 12.0, "weight": -1}]},
    ]
    refused = [{"canvasRequest": True, "canvasInitId": "c"}, {**canvas, "canvasRequestType": None},
               {**canvas, "canvasRequest": "no"}, {**canvas, "init_image_id": "i"}, {**canvas, "init_strength": 0.95},
               {"canvasInitId": "c"}, {"canvasRequest": False, "canvasMaskId": "m"}, legacy, {**canvas, **legacy},
               {"init_image_id": "i", "init_generation_image_id": "g"}, {"init_image_id": "i", "init_strength": 0.05},
               {"imagePromptWeight": 1.5},
               {"num_images": 5, "width": None, "height": 512},  # a null size is the default, maybe above 768
               {"controlNetType": "CANNY"}, {"num_images": 5, "width": 1024, "height": 512},
               {"controlnets": [{"initImageId": "i", "preprocessorId": 67, "weight": 1, "strengthType": "Mid"}]},
               {"controlnets": [{"initImageId": "i", "preprocessorId": 9999}]},
               {"controlnets": [{"preprocessorId": 19}]},
               {"controlnets": [{"initImageId": "i", "preprocessorId": 19, "initImageType": "MINE"}]},
               {"elements": [{"weight": 1}]}, {"userElements": [{"userLoraId": 0}]},
               {"userElements": [{"userLoraId": 3, "weight": 2.5}]}]  # fmt: skip
    improve = schemas["PromptImproveBody"]["properties"]  # found by make fuzz: a 201-character prompt is a 400
    assert (improve["prompt"]["maxLength"], improve["promptInstructions"]["anyOf"][0]["maxLength"]) == (200, 500)
    assert all(generation.is_valid({"prompt": "p", **body}) for body in allowed)
    assert not any(generation.is_valid({"prompt": "p", **body}) for body in refused)


def test_semantic_refusals_are_declared_and_described(spec: dict) -> None:
    """What no schema can say is named per operation (tests/api/fuzz_hooks.py expects exactly those 400s)."""
    ops = {(m.upper(), p.removeprefix(API)): op for p, methods in spec["paths"].items() for m, op in methods.items()}
    assert set(ops[("POST", "/variations/upscale")]["x-semantic-refusals"]) == {"id"}
    assert set(ops[("POST", "/lcm-inpainting")]["x-semantic-refusals"]) == {"imageDataUrl", "maskDataUrl"}
    assert set(ops[("GET", "/models-3d/{id}")]["x-semantic-refusals"]) == {"id"}
    for op in ops.values():
        for field in op.get("x-semantic-refusals", {}):
            assert f"`{field}`" in op["description"]
    assert "x-semantic-refusals" not in ops[("POST", "/generations-text-to-video")]
    assert "Allow" in spec["info"]["description"] and "206 Partial Content" in spec["info"]["description"]


def test_405_names_the_allowed_methods_and_files_serve_byte_ranges(live_server: LiveServer) -> None:
    """What the spec's description promises about 405 and /cdn files."""
    client = live_server.client("spec-ranges")
    r = client.put("/generations/some-id")
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET"
    gid = client.post("/generations", json={"prompt": "x", "num_images": 1, "width": 64, "height": 64}).json()
    gen = wait_for_generation(client, gid["sdGenerationJob"]["generationId"])
    url = gen["generated_images"][0]["url"]
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.content == whole.content[:10]
    assert part.headers["content-range"] == f"bytes 0-9/{len(whole.content)}"
    assert httpx.get(url, headers={"Range": f"bytes={len(whole.content) + 10}-"}).status_code == 416
