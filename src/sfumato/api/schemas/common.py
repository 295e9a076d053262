"""Shared wire pieces: the tolerant request base, cost, timestamps."""

from __future__ import annotations

import functools
import logging
import types
import typing
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from starlette.responses import Response

log = logging.getLogger("sfumato.api")


class TolerantBody(BaseModel):
    """Unknown or misspelled keys are kept aside (and logged by the route), never a 500 or a 400."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1 in a number field; no client means that, so it is refused as a wrong type
        # (numbers as strings stay tolerated: "64").
        if isinstance(value, bool) and info.field_name in _number_fields(cls):
            kind = "int_type" if int in _number_fields(cls)[info.field_name] else "float_type"
            raise PydanticCustomError(kind, "Input should be a number, not true or false")
        return value

    def log_unknown_keys(self, endpoint: str) -> None:
        if self.model_extra:
            log.warning("%s: ignoring unknown keys %s", endpoint, sorted(self.model_extra))


@functools.cache
def _number_fields(model: type[BaseModel]) -> dict[str, set[Any]]:
    """The model's fields typed int or float (alone or with None), with those types."""
    found: dict[str, set[Any]] = {}
    for name, field in model.model_fields.items():
        annotation = field.annotation
        options = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) else {annotation}
        numbers = {t for t in options if t in (int, float)}
        if numbers and bool not in options:
            found[name] = numbers
    return found


class WireModel(BaseModel):
    """Responses: routes drop None values, because the TypeScript SDK rejects null on many keys."""

    model_config = ConfigDict(populate_by_name=True)

    def json_bytes(self) -> bytes:
        """The wire JSON (aliases, no None values): what `json_response` sends, and what a route keeps to send
        again (api/rendered.py)."""
        return self.__pydantic_serializer__.to_json(self, by_alias=True, exclude_none=True)

    def json_response(self) -> Response:
        """The same bytes FastAPI's `response_model_exclude_none` would send, serialised once: a route that returns
        its model instead has it dumped, validated again and dumped a second time (the polled read routes' cost)."""
        return Response(self.json_bytes(), media_type="application/json")


class Cost(WireModel):
    amount: str = "0"
    unit: str = "CREDITS"


def upper_enum(value: Any) -> Any:
    """Enum values in another case ("euler_discrete") are read as the documented upper-case value."""
    return value.strip().upper() if isinstance(value, str) else value


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
