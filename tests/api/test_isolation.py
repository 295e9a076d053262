"""Isolation, driven by the served OpenAPI spec: every operation that takes an id (in its path, or as a body field
named like an id) is tried by a second user with the first user's id, and must answer exactly what a missing
id gets (same status, same body but for the id itself): another user learns nothing, not even that it exists.

The spec is read from the live server, so a new operation that takes an id fails
`test_every_operation_that_takes_an_id_is_covered` until it is given a resource below (how to make one) and,
for body ids, a minimal request. `test_an_uncovered_operation_is_reported` shows that with a made-up one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.testing.live_server import LiveServer
from sfumato.web import install_web
from tests.api.resources import Resources
from tests.motion.support import motion_server
from tests.web.support import PASSWORD, form_token, http_sign_in, sfumato

API = "/api/rest/v1"
ID_FIELD = re.compile(r"(^id$|Id$|_id$)")
TINY_SVD_ID = "0a1b2c3d-0000-4000-8000-00000000502d"

# Platform models are public (every user lists them): their ids are not a user's resource.
PUBLIC = "public"
# Accepted and recorded but not read yet: nothing of anyone's is touched. When the server starts reading one,
# give it its resource here.
NOT_READ = "not-read"


@dataclass(frozen=True)
class IdUse:
    resource: str  # a key of Resources.makers, or PUBLIC
    body: dict[str, Any] | None = None  # body ids: the rest of a minimal request, the id goes in `field`
    field: str | None = None


# (method, path) -> how the id is used. Path ids name their resource; body ids also need a minimal request.
PATH_IDS: dict[tuple[str, str], IdUse] = {
    ("GET", "/models/{id}"): IdUse("custom_model"),  # platform model ids are public; custom ones are not
    ("DELETE", "/models/{id}"): IdUse("custom_model"),
    ("GET", "/models/user/{userId}"): IdUse("user"),
    ("GET", "/datasets/{id}"): IdUse("dataset"),
    ("DELETE", "/datasets/{id}"): IdUse("dataset"),
    ("POST", "/datasets/{datasetId}/upload"): IdUse("dataset"),
    ("POST", "/datasets/{datasetId}/upload/gen"): IdUse("dataset"),
    ("GET", "/elements/{id}"): IdUse("element"),
    ("DELETE", "/elements/{id}"): IdUse("element"),
    ("GET", "/elements/user/{userId}"): IdUse("user"),
    ("GET", "/generations/user/{userId}"): IdUse("user"),
    ("GET", "/generations/{id}"): IdUse("generation"),
    ("GET", "/generations/{id}/events"): IdUse("generation"),
    ("DELETE", "/generations/{id}"): IdUse("generation"),
    ("GET", "/init-image/{id}"): IdUse("init_image"),
    ("DELETE", "/init-image/{id}"): IdUse("init_image"),
    ("GET", "/variations/{id}"): IdUse("variation"),
    ("GET", "/motion-variations/{id}"): IdUse("motion_variation"),
    ("GET", "/models-3d/{id}"): IdUse("model_3d"),
    ("DELETE", "/models-3d/{id}"): IdUse("model_3d"),
    ("GET", "/models-3d/user/{userId}"): IdUse("user"),
    ("GET", "/generations-texture/{id}"): IdUse("texture"),
    ("DELETE", "/generations-texture/{id}"): IdUse("texture"),
    ("GET", "/generations-texture/model/{modelId}"): IdUse("model_3d"),
    ("GET", "/blueprint-executions/{id}"): IdUse("blueprint_execution"),
    ("GET", "/blueprint-executions/{id}/generations"): IdUse("blueprint_execution"),
    ("GET", "/blueprints/{id}"): IdUse(PUBLIC),  # the server's blueprints: every user reads them
    ("GET", "/blueprints/{id}/versions"): IdUse(PUBLIC),
}
VIDEO = {"prompt": "moving left"}
BODY_IDS: dict[tuple[str, str, str], IdUse] = {
    ("POST", "/generations", "modelId"): IdUse(PUBLIC),
    ("POST", "/generations", "canvasInitId"): IdUse(
        "init_image", {"prompt": "a red circle", "canvasRequest": True, "canvasRequestType": "IMG2IMG"}
    ),
    ("POST", "/generations", "canvasMaskId"): IdUse(
        "init_image", {"prompt": "a red circle", "canvasRequest": True, "canvasRequestType": "INPAINT"}
    ),
    ("POST", "/generations", "init_image_id"): IdUse("init_image", {"prompt": "a red circle", "init_strength": 0.5}),
    ("POST", "/generations", "init_generation_image_id"): IdUse("image", {"prompt": "a red circle"}),
    ("POST", "/variations/upscale", "id"): IdUse("image", {}),
    ("POST", "/variations/unzoom", "id"): IdUse("image", {}),
    ("POST", "/variations/nobg", "id"): IdUse("image", {}),
    ("POST", "/variations/universal-upscaler", "generatedImageId"): IdUse("image", {}),
    ("POST", "/variations/universal-upscaler", "initImageId"): IdUse("init_image", {}),
    ("POST", "/variations/universal-upscaler", "variationId"): IdUse("variation", {}),
    ("POST", "/generations-motion-svd", "imageId"): IdUse("image", {}),
    ("POST", "/generations-image-to-video", "imageId"): IdUse("image", {**VIDEO, "imageType": "GENERATED"}),
    ("POST", "/models", "datasetId"): IdUse("dataset", {"name": "theirs", "instance_prompt": "sks"}),
    ("POST", "/elements", "datasetId"): IdUse("dataset", {"lora_focus": "Style"}),
    # The path's {datasetId} stays a placeholder (no dataset): the answer must still not depend on whose image.
    ("POST", "/datasets/{datasetId}/upload/gen", "generatedImageId"): IdUse("image", {}),
    ("POST", "/blueprint-executions", "blueprintVersionId"): IdUse(PUBLIC),
    ("POST", "/generations-texture", "modelAssetId"): IdUse("model_3d", {"prompt": "a red cube", "preview": True}),
    ("POST", "/generations-video-upscale", "sourceGenerationId"): IdUse(
        "motion_generation", {"resolution": "RESOLUTION_720"}
    ),
}


def id_operations(spec: dict[str, Any]) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
    """Every (method, path) with a path parameter, and every (method, path, field) whose JSON body has a
    top-level property named like an id, as the spec describes them."""
    paths, fields = set(), set()
    for full_path, ops in spec["paths"].items():
        path = full_path.removeprefix(API)
        for method, op in ops.items():
            if "{" in path:
                paths.add((method.upper(), path))
            schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            for prop in _properties(spec, schema):
                if ID_FIELD.search(prop):
                    fields.add((method.upper(), path, prop))
    return paths, fields


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _properties(spec, spec["components"]["schemas"][name])
    out = list(schema.get("properties", {}))
    for part in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        out += _properties(spec, part)
    return out


def uncovered(spec: dict[str, Any]) -> list[str]:
    paths, fields = id_operations(spec)
    missing = [f"{m} {p}" for m, p in sorted(paths) if (m, p) not in PATH_IDS]
    missing += [f"{m} {p} body field {f}" for m, p, f in sorted(fields) if (m, p, f) not in BODY_IDS]
    return missing


@pytest.fixture(scope="module")
def server(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("isolation")
    svd = build_tiny_svd(root / "tiny-svd", follows_prompts=True)
    # The custom model and element it owns train in seconds; its webhook delivery goes to loopback.
    quick = {"SFUMATO_TRAINING_STEPS_SCALE": "0.1", "SFUMATO_WEBHOOK_ALLOW_PRIVATE": "true"}
    with motion_server(root, tiny_catalog, svd, TINY_SVD_ID, "Tiny SVD", quick) as live:
        yield live


@pytest.fixture(scope="module")
def owned(server: LiveServer) -> Resources:
    return Resources(server, "owner")


def anonymised(answer: httpx.Response, some_id: str) -> tuple[int, Any]:
    body = answer.json()
    if isinstance(body, dict):
        body.pop("requestId", None)
    return answer.status_code, _replace(body, some_id)


def _replace(value: Any, some_id: str) -> Any:
    if isinstance(value, str):
        return value.replace(some_id, "<ID>")
    if isinstance(value, dict):
        return {k: _replace(v, some_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, some_id) for v in value]
    return value


def test_every_operation_that_takes_an_id_is_covered(server: LiveServer) -> None:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert not uncovered(spec), (
        f"operations that take an id have no isolation coverage; add them to PATH_IDS / BODY_IDS: {uncovered(spec)}"
    )
    paths, fields = id_operations(spec)
    # No stale entries: each one names an operation and field the server really has.
    assert set(PATH_IDS) <= paths and set(BODY_IDS) <= fields, (set(PATH_IDS) - paths, set(BODY_IDS) - fields)


def test_an_uncovered_operation_is_reported() -> None:
    spec = {
        "paths": {
            f"{API}/widgets/{{id}}": {"get": {}},
            f"{API}/widgets": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/W"}}}}
                }
            },
        },
        "components": {"schemas": {"W": {"properties": {"gadgetId": {}, "name": {}}}}},
    }
    assert uncovered(spec) == ["GET /widgets/{id}", "POST /widgets body field gadgetId"]


# Public and not-read ids stay listed (the coverage test needs them) but have nothing of a user's to protect.
NOT_OWNED = {PUBLIC, NOT_READ}


@pytest.mark.parametrize(("method", "path"), sorted(k for k, use in PATH_IDS.items() if use.resource not in NOT_OWNED))
def test_another_users_id_in_the_path_is_a_missing_id(
    server: LiveServer, owned: Resources, method: str, path: str
) -> None:
    use = PATH_IDS[(method, path)]
    some_id = owned.get(use.resource)
    missing_id = str(uuid.uuid4())
    param = re.search(r"\{(\w+)\}", path)
    assert param is not None
    stranger = server.client("stranger")
    theirs = stranger.request(method, path.replace(param.group(0), some_id))
    missing = stranger.request(method, path.replace(param.group(0), missing_id))
    assert theirs.status_code == 404, theirs.text
    assert anonymised(theirs, some_id) == anonymised(missing, missing_id)
    # The owner still has it (a stranger's DELETE removed nothing).
    read = {
        "generation": "/generations/{id}",
        "init_image": "/init-image/{id}",
        "dataset": "/datasets/{id}",
        "custom_model": "/models/{id}",
        "element": "/elements/{id}",
    }.get(use.resource)
    if method == "DELETE" and read:
        assert owned.client.get(read.replace("{id}", some_id)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "field"), sorted(k for k, use in BODY_IDS.items() if use.resource not in NOT_OWNED)
)
def test_another_users_id_in_the_body_is_a_missing_id(
    server: LiveServer, owned: Resources, method: str, path: str, field: str
) -> None:
    use = BODY_IDS[(method, path, field)]
    some_id = owned.get(use.resource)
    missing_id = str(uuid.uuid4())
    stranger = server.client("body-stranger")
    theirs = stranger.request(method, path, json={**(use.body or {}), field: some_id})
    missing = stranger.request(method, path, json={**(use.body or {}), field: missing_id})
    assert theirs.status_code in (400, 404), theirs.text  # refused, never run on someone else's input
    assert anonymised(theirs, some_id) == anonymised(missing, missing_id)


# --- the web app (/app) -------------------------------------------------------------------------------------
# Its routes are not in the spec (include_in_schema=False): they are read off the app that install_web builds, so a
# new /app route that takes an id (in its path, or a query parameter) fails test_every_web_route_that_takes_an_id_
# is_covered until it is listed here. Keys: (method, path, the parameter that carries the id).
WEB_IDS: dict[tuple[str, str, str], IdUse] = {
    ("GET", "/app/generate", "again"): IdUse("generation"),  # "Generate again": the form filled from it
    ("GET", "/app/generations/{generation_id}/card", "generation_id"): IdUse("generation"),
    ("GET", "/app/generations/{generation_id}/code", "generation_id"): IdUse("generation"),
    ("POST", "/app/generations/{generation_id}/delete", "generation_id"): IdUse("generation"),
    ("POST", "/app/images/{image_id}/{transform}", "image_id"): IdUse("image"),
    ("GET", "/app/variations/{variation_id}/code", "variation_id"): IdUse("variation"),
    # Platform samples are public; a custom model's id must answer as a missing one does.
    ("GET", "/app/models/{model_id}/sample", "model_id"): IdUse("custom_model"),
    ("POST", "/app/trainings/{training_id}/cancel", "training_id"): IdUse("custom_model"),
    ("POST", "/app/api-access/keys/{key_id}/delete", "key_id"): IdUse("api_key"),
    ("POST", "/app/api-access/deliveries/{delivery_id}/redeliver", "delivery_id"): IdUse("webhook_delivery"),
}
# Parameters that are not ids, with the value the requests use.
WEB_NOT_IDS = {"transform": "upscale", "tab": "yours", "page_number": "1", "lang": "python"}


def web_id_parameters(routes: list[Any]) -> set[tuple[str, str, str]]:
    """(method, path, parameter) for every path and query parameter of every route under /app."""
    found = set()
    for context in iter_route_contexts(routes):  # included routers' routes with their prefixes
        route, path = context.original_route, context.path or ""
        if not isinstance(route, APIRoute) or not path.startswith("/app"):
            continue
        names = [p.name for p in route.dependant.path_params + route.dependant.query_params]
        for method in route.methods:
            found.update((method, path, name) for name in names)
    return found


def web_uncovered(routes: list[Any]) -> list[str]:
    return [
        f"{m} {p} ({name})"
        for m, p, name in sorted(web_id_parameters(routes))
        if (m, p, name) not in WEB_IDS and name not in WEB_NOT_IDS
    ]


def _web_app_routes() -> list[Any]:
    app = FastAPI()
    install_web(app)
    return list(app.routes)


def test_every_web_route_that_takes_an_id_is_covered() -> None:
    routes = _web_app_routes()
    assert web_uncovered(routes) == [], (
        f"/app routes that take an id have no isolation case in WEB_IDS: {web_uncovered(routes)}"
    )
    assert set(WEB_IDS) <= web_id_parameters(routes), set(WEB_IDS) - web_id_parameters(routes)  # none stale


def test_an_uncovered_web_route_is_reported() -> None:
    app = FastAPI()

    @app.post("/app/widgets/{widget_id}/polish")
    def polish(widget_id: str, mode: str = "") -> None: ...

    assert web_uncovered(_web_app_routes() + list(app.routes)) == [
        "POST /app/widgets/{widget_id}/polish (mode)",
        "POST /app/widgets/{widget_id}/polish (widget_id)",
    ]


@pytest.fixture(scope="module")
def web_stranger(server: LiveServer) -> Iterator[httpx.Client]:
    """Another user, signed in to the web app through its form (cookie and CSRF token)."""
    server.user("web-stranger")
    done = sfumato(server, "users", "password", "web-stranger", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    with http_sign_in(server, "web-stranger") as client:
        yield client


def _web_request(client: httpx.Client, method: str, path: str, param: str, value: str) -> httpx.Response:
    url = path.replace("{" + param + "}", value)
    for name, fixed in WEB_NOT_IDS.items():
        url = url.replace("{" + name + "}", fixed)
    query = {param: value} if "{" + param + "}" not in path else {}
    if method == "GET":
        return client.get(url, params=query)
    token = form_token(client.get("/app/account").text)
    return client.post(url, params=query, files={"csrftoken": (None, token)})


@pytest.mark.parametrize(("method", "path", "param"), sorted(WEB_IDS))
def test_another_users_id_in_a_web_route_is_a_missing_id(
    server: LiveServer, owned: Resources, web_stranger: httpx.Client, method: str, path: str, param: str
) -> None:
    some_id = owned.get(WEB_IDS[(method, path, param)].resource)
    missing_id = str(uuid.uuid4())
    theirs = _web_request(web_stranger, method, path, param, some_id)
    missing = _web_request(web_stranger, method, path, param, missing_id)
    # A card's poll answers a gone generation with a note, 200 (htmx swaps it in); everything else is a 404.
    assert theirs.status_code == 404 or "This generation was deleted" in theirs.text, theirs.text
    assert (theirs.status_code, theirs.text.replace(some_id, "<ID>")) == (
        missing.status_code,
        missing.text.replace(missing_id, "<ID>"),
    )
    # Nothing of the owner's changed: the generation, its image's variations, the key, the training.
    assert owned.client.get(f"/generations/{owned.get('generation')}").status_code == 200
    assert (
        owned.client.get(f"/models/{owned.get('custom_model')}").json()["custom_models_by_pk"]["status"] == "COMPLETE"
    )
    assert owned.client.get("/me").status_code == 200  # the owner's first key still works
