"""The served OpenAPI spec, made to tell the truth about what FastAPI cannot see from the route signatures:

- every error the server really answers, with Leonardo's error body: 400 (a wrong request: validation is
  ours, never FastAPI's 422), 401 (no or a wrong API key), 429 (rate limits), and 404 on operations that take
  an id (in the path, or a body field named like one);
- request bodies: the fields the server requires are `required`, and a body that needs one is itself
  required (the routes take `Body | None` only so that a missing body gets our 400 instead of FastAPI's).
- the ranges of numbers (`WIRE_RANGES`: minimum and maximum) where the server refuses what lies outside.
Body models name what they require in `WIRE_REQUIRED` (api/schemas)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

ID_FIELD = re.compile(r"(^id$|Id$|_id$)")
ERROR_SCHEMA = {
    "type": "object",
    "description": "Leonardo's error body; `requestId` is Sfumato's (it finds the request in the server log).",
    "properties": {
        "error": {"type": "string", "description": "what went wrong and what to send instead"},
        "path": {"type": "string", "description": "JSON path of the field at fault ($ for the whole request)"},
        "code": {"type": "string", "description": "bad-request, validation-failed, not-found, access-denied, ..."},
        "requestId": {"type": "string"},
    },
    "required": ["error", "path", "code"],
}
_ERRORS = {
    "400": "The request is wrong; `error` says which field and what to send instead.",
    "401": "No API key, or not a key of this server (Authorization: Bearer KEY).",
    "404": "No such thing for this user (another user's ids get the same answer).",
    "429": "Over a rate limit or the queue cap: try again later.",
    "402": "The user's credit balance cannot pay for this; `error` says the cost and the balance (docs/credits.md).",
}


def install_truthful_openapi(app: FastAPI, api_prefix: str, bodies: list[type[BaseModel]]) -> None:
    """`bodies`: the request body models: their `WIRE_REQUIRED` fields become required and not nullable, their
    `WIRE_ENUMS` fields list the values the server accepts (in any case: the description says so)."""
    required = {m.__name__: list(getattr(m, "WIRE_REQUIRED", ())) for m in bodies}
    enums = {m.__name__: dict(getattr(m, "WIRE_ENUMS", {})) for m in bodies}
    ranges = {m.__name__: dict(getattr(m, "WIRE_RANGES", {})) for m in bodies}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            app.openapi_schema = truthful(spec, api_prefix, required, enums, ranges)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(
    spec: dict[str, Any],
    api_prefix: str,
    required: dict[str, list[str]],
    enums: dict[str, dict[str, tuple[Any, ...]]] | None = None,
    ranges: dict[str, dict[str, tuple[float, float]]] | None = None,
) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for name, fields in required.items():
        if name in schemas and fields:
            schemas[name]["required"] = fields
            for field in fields:
                _not_null(schemas[name]["properties"][field])
    for name, by_field in (enums or {}).items():
        for field, values in by_field.items():
            if name in schemas:
                _enum(schemas[name]["properties"][field], list(values))
    for name, by_field in (ranges or {}).items():
        for field, (low, high) in by_field.items():
            if name in schemas:
                _range(schemas[name]["properties"][field], low, high)
    for path, ops in spec.get("paths", {}).items():
        if not path.startswith(api_prefix):
            continue
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            body_ref = _require_body(op, schemas)
            codes = ["400", "401", "429"]
            if "{" in path or any(ID_FIELD.search(f) for f in _properties(schemas, body_ref)):
                codes.append("404")
            if _charges(op, schemas):
                codes.append("402")
            for code in codes:
                responses.setdefault(code, _error_response(_ERRORS[code]))
    return spec


def _require_body(op: dict[str, Any], schemas: dict[str, Any]) -> str | None:
    """`Body | None` becomes `Body`, required, when the body model has required fields. Returns its name."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schema = content.get("schema", {})
    options: list[dict[str, Any]] = schema.get("anyOf", [schema])
    ref = next((o["$ref"] for o in options if "$ref" in o), None)
    if ref is None:
        return None
    name = ref.rsplit("/", 1)[-1]
    if schemas.get(name, {}).get("required"):
        content["schema"] = {"$ref": ref}
        op["requestBody"]["required"] = True
    return name


def _not_null(prop: dict[str, Any]) -> None:
    """A required field: the server refuses null, so the spec does not offer it."""
    options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
    if len(options) == 1:
        prop.update(options[0])
    elif options:
        prop["anyOf"] = options
    if prop.get("default", 0) is None:
        del prop["default"]
    if prop.get("type") == "string":
        prop["minLength"] = 1  # an empty string is refused like a missing one


def _enum(prop: dict[str, Any], values: list[Any]) -> None:
    kind = "integer" if all(isinstance(v, int) for v in values) else "string"
    target = next((o for o in prop.get("anyOf", []) if o.get("type") == kind), prop)
    target["type"], target["enum"] = kind, values


def _range(prop: dict[str, Any], low: float, high: float) -> None:
    for target in [o for o in prop.get("anyOf", []) if o.get("type") in ("integer", "number")] or [prop]:
        target["minimum"], target["maximum"] = low, high


def _charges(op: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """A paid operation: its answer carries `apiCreditCost` (services/credits/ charges it; 402 when it cannot)."""
    schema = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
    seen: set[str] = set()

    def has_cost(node: Any) -> bool:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref not in seen:
                seen.add(ref)
                return has_cost(schemas.get(ref.rsplit("/", 1)[-1], {}))
            return "apiCreditCost" in node.get("properties", {}) or any(has_cost(v) for v in node.values())
        return isinstance(node, list) and any(has_cost(v) for v in node)

    return has_cost(schema)


def _properties(schemas: dict[str, Any], name: str | None) -> list[str]:
    return list(schemas.get(name, {}).get("properties", {})) if name else []


def _error_response(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}
