"""Schemathesis hooks for tests/api/test_fuzz.py (loaded with SCHEMATHESIS_HOOKS).

Refusals no schema can state are declared by the spec itself, per operation: `x-semantic-refusals` maps a field
(a path or body field, or a dotted path inside the body) to why a schema-valid value of it may still get a 400:
what an id points to (an init image's id where a generated image's belongs), what a data URL's bytes hold, the
operator's settings (api/openapi.py; the operation's description says the same). The one expectation added here
is exactly that: a "schema-valid request rejected" failure is dropped only when the answer is a 400 whose error
`path` is one of the fields the operation declares. Every other failure, every other check and every operation
without a declaration stay as schemathesis reports them; a new endpoint needs no edit here."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData


def declared_fields(case: Any) -> dict[str, str]:
    return dict(case.operation.definition.raw.get("x-semantic-refusals") or {})


def is_declared(path: str, fields: dict[str, str]) -> bool:
    """`path` is the error body's ("$.id", "$.input.nodeInputs[0].nodeId"): a declared field or inside one."""
    field = path.removeprefix("$.")
    return any(field == f or field.startswith((f + ".", f + "[")) for f in fields)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """False drops the failure: a declared semantic refusal, and nothing else."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    fields = declared_fields(case)
    if not fields:
        return True
    try:
        path = json.loads(response.content).get("path", "")
    except (ValueError, AttributeError):
        return True
    return not (isinstance(path, str) and is_declared(path, fields))
