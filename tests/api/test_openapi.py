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
