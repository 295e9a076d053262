"""The served OpenAPI spec, made to tell the truth about what FastAPI cannot see from the route signatures:

- every error the server really answers, with Leonardo's error body: 400 (a wrong request: validation is
  ours, never FastAPI's 422), 401 (no or a wrong API key), 429 (rate limits), and 404 on operations that take
  an id (in the path, or a body field named like one);
- request bodies: the fields the server requires are `required`, and a body that needs one is itself
  required (the routes take `Body | None` only so that a missing body gets our 400 instead of FastAPI's).
- the ranges of numbers (`WIRE_RANGES`: minimum and maximum) where the server refuses what lies outside;
- other keywords of one field (`WIRE_FIELDS`: a pattern, multipleOf, ...) and rules across fields (`WIRE_RULES`:
  "exactly one of", "this one only with that one": oneOf/anyOf/allOf on the body);
- the tolerant booleans the server reads (0/1 and words such as "yes"), as the schema of every request boolean;
- refusals no schema can state (`WIRE_SEMANTIC` on a body, `semantic_refusals()` in a route's openapi_extra):
  a schema-valid value refused with a 400 because of what an id points to or what decoded bytes hold. The
  operation carries them as `x-semantic-refusals` (field: why) and says them in its description; the fuzzing
  test (tests/api/fuzz_hooks.py) expects exactly those 400s, on those fields, and no other.
Body models name what they require in `WIRE_REQUIRED` (api/schemas); query parameters get their keywords from a
route's openapi_extra (`wire_parameters()`)."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter, ValidationError

from sfumato.services.errors import InvalidRequest

ID_FIELD = re.compile(r"(^id$|Id$|_id$)")
SEMANTIC = "x-semantic-refusals"
_PARAMETERS = "x-wire-parameters"  # consumed here: keywords for the query parameters FastAPI wrote
# pydantic's lax booleans (api/schemas: `bool | None` fields): true/false, 0/1, and these words in any case.
BOOLEAN_WORDS = "^([tT]([rR][uU][eE])?|[fF]([aA][lL][sS][eE])?|[yY]([eE][sS])?|[nN][oO]?|[oO]([nN]|[fF][fF])|[01])$"
TOLERANT_BOOLEAN: list[dict[str, Any]] = [
    {"type": "boolean"},
    {"type": "integer", "enum": [0, 1]},
    {"type": "string", "pattern": BOOLEAN_WORDS},
]
FALSE_WORDS = "^([fF]([aA][lL][sS][eE])?|[nN][oO]?|[oO][fF][fF]|0)$"
# A boolean the server takes only as false (an option it does not serve): false, 0, or a word for false.
FALSE_ONLY: dict[str, Any] = {
    "anyOf": [{"const": False}, {"const": 0}, {"type": "string", "pattern": FALSE_WORDS}, {"type": "null"}]
}
# What Python's str.strip() removes (the server trims texts): JSON Schema's \s is ECMA's, a different set.
SPACE = r"\t-\r\x1c- \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{SPACE}]"  # a text with something in it once trimmed
BLANK: dict[str, Any] = {"pattern": f"^[{SPACE}]*$"}  # a text the server takes only empty (an option not served)
TRUE_ONLY: dict[str, Any] = {  # a boolean that is true (tolerant words included)
    "anyOf": [
        {"const": True},
        {"const": 1},
        {"type": "string", "pattern": "^([tT]([rR][uU][eE])?|[yY]([eE][sS])?|[oO][nN]|1)$"},
    ]
}
# The reason of most semantic refusals: the server tells ids apart and says where one of another kind belongs.
WRONG_KIND = (
    "an id of another kind of yours (an init image's where a generated image's belongs, a generation's where an "
    "image's does, ...) gets a 400 that names the field or endpoint that takes it, instead of a 404; so does one "
    "not ready yet (an init image whose file was not uploaded, a variation still PENDING)"
)
_BOOLEAN_NOTE = (
    "true or false; 0/1 and the words true/false, yes/no, on/off, t/f, y/n, 1/0 (any case) are read as the "
    "same, as public scripts send them (Leonardo's SDKs send true/false)."
)
_BODY_NOTE = (
    "Tolerant as Leonardo's API: null means the default, unknown keys are ignored, enum values are read in any "
    'case, and a number may come as a string holding it ("64"). The schema types numbers as numbers, as '
    "Leonardo's SDKs do."
)
_API_NOTE = """

Every answer under /api/rest/v1 that is not a 2xx carries Leonardo's error body (`Error`). A method a path does
not serve gets 405 with an `Allow` header that lists the methods it does (RFC 9110).

The file URLs in answers (`url`, `motionMP4URL`, ...: /cdn/...) need no Authorization header and serve byte
ranges (RFC 9110): `Accept-Ranges: bytes`, a `Range: bytes=START-END` request gets 206 Partial Content with
`Content-Range`, a range past the end 416, so players can seek in a video without fetching all of it."""


def semantic_refusals(**why: str) -> dict[str, Any]:
    """openapi_extra of a route: the fields (path or body) whose schema-valid values the server may still refuse
    with a 400 because of what they point to, each with the reason (said in the operation's description)."""
    return {SEMANTIC: why}


def wire_parameters(**keywords: dict[str, Any]) -> dict[str, Any]:
    """openapi_extra of a route: JSON Schema keywords for its query parameters, e.g. offset={"minimum": 0}."""
    return {_PARAMETERS: keywords}


MAX_PAGING = 2**63 - 1  # the databases' integer: a larger offset or limit would fail inside the query
_COUNT = {"minimum": 0, "maximum": MAX_PAGING}  # a negative one is refused (the services say so)
PAGING = wire_parameters(offset=_COUNT, limit=_COUNT)


async def _check_paging(request: Request) -> None:
    """A route dependency: an offset or limit past what the database holds gets a 400, not a 500 from SQL."""
    for name in ("offset", "limit"):
        raw = request.query_params.get(name)
        try:
            value = _INT.validate_python(raw) if raw is not None else None
        except ValidationError:
            continue  # not an integer: FastAPI's own check answers that (a 400 naming the parameter)
        if value is not None and value > MAX_PAGING:
            raise InvalidRequest(f"{name} is at most {MAX_PAGING}, got {raw}", field=name)


_INT: TypeAdapter[int] = TypeAdapter(int)  # the query's integers, read as FastAPI reads them
PAGING_CHECK = [Depends(_check_paging)]  # `dependencies=` of a route that takes offset and limit
ID_OF_ANOTHER_KIND = semantic_refusals(id=WRONG_KIND)
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
    models = {m.__name__: m for m in bodies}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            spec["info"]["description"] = (spec["info"].get("description") or "") + _API_NOTE
            app.openapi_schema = truthful(spec, api_prefix, required, enums, ranges, models)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(
    spec: dict[str, Any],
    api_prefix: str,
    required: dict[str, list[str]],
    enums: dict[str, dict[str, tuple[Any, ...]]] | None = None,
    ranges: dict[str, dict[str, tuple[float, float]]] | None = None,
    models: dict[str, type[BaseModel]] | None = None,
) -> dict[str, Any]:
    models = models or {}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    _add_referenced_bodies(spec, schemas, models)
    for name, model in models.items():
        if name in schemas:
            _tolerant_body(schemas[name], model)
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
            _parameters(op)
            body_ref = _require_body(op, schemas)
            if body_ref in models:
                why = dict(getattr(models[body_ref], "WIRE_SEMANTIC", {}))
                if why:
                    op[SEMANTIC] = {**why, **op.get(SEMANTIC, {})}
            _describe_semantic(op)
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
    body = schemas.get(name, {})
    # Something must be sent: required fields, or a rule such as "exactly one of" (oneOf/anyOf over fields).
    if body.get("required") or any(k in body for k in ("oneOf", "anyOf", "allOf")):
        content["schema"] = {"$ref": ref}
        op["requestBody"]["required"] = True
    return name


def _add_referenced_bodies(spec: dict[str, Any], schemas: dict[str, Any], models: dict[str, type[BaseModel]]) -> None:
    """A body a route documents by hand (openapi_extra: GET /blueprints reads its JSON body itself) refers to its
    model's component, which FastAPI wrote only for models it parsed: add those, so the fixes below apply."""
    text = json.dumps(spec.get("paths", {}))
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)) - set(schemas):
        if name in models:
            found = models[name].model_json_schema(ref_template="#/components/schemas/{model}")
            for nested, schema in found.pop("$defs", {}).items():
                schemas.setdefault(nested, schema)
            schemas[name] = found


def _tolerant_body(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """A request body as the server reads it: its booleans as pydantic takes them, its fields' and rules'
    keywords (`WIRE_FIELDS`, `WIRE_RULES`), and a note on what else it tolerates."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf", [prop])
        if any(o.get("type") == "boolean" for o in options):
            rest = [o for o in options if o.get("type") != "boolean"]
            prop.pop("type", None)
            prop["anyOf"] = TOLERANT_BOOLEAN + rest
            prop["description"] = " ".join(filter(None, [prop.get("description"), _BOOLEAN_NOTE]))
    for field, keywords in getattr(model, "WIRE_FIELDS", {}).items():
        prop = schema["properties"][field]
        targets = [o for o in prop.get("anyOf", []) if o.get("type") != "null"] or [prop]
        for key, value in keywords.items():
            if key == "description":
                prop["description"] = value
            elif key == "schema":  # the whole schema of the field, replaced (title and description kept)
                for old in [k for k in prop if k not in ("title", "description")]:
                    del prop[old]
                prop.update(value)
                targets = [prop]
            else:
                for target in targets:
                    target[key] = value
    schema.update(getattr(model, "WIRE_RULES", {}))
    schema["description"] = " ".join(filter(None, [schema.get("description"), _BODY_NOTE]))


def _parameters(op: dict[str, Any]) -> None:
    keywords = op.pop(_PARAMETERS, {})
    for param in op.get("parameters", []):
        for key, value in keywords.get(param["name"], {}).items():
            schema = param.setdefault("schema", {})
            targets = [o for o in schema.get("anyOf", []) if o.get("type") != "null"] or [schema]
            for target in targets:
                target[key] = value


def _describe_semantic(op: dict[str, Any]) -> None:
    why = op.get(SEMANTIC)
    if not why:
        return
    lines = "\n".join(f"- `{field}`: {reason}" for field, reason in why.items())
    note = f"Refusals no schema can state (a 400 naming the field, with what to send instead):\n{lines}"
    op["description"] = f"{op['description']}\n\n{note}" if op.get("description") else note


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
        if "enum" not in prop:
            prop.setdefault("pattern", NOT_BLANK)  # so is a blank one (the server trims)


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
