"""Shared wire pieces: the tolerant request base, cost, timestamps."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

log = logging.getLogger("sfumato.api")


class TolerantBody(BaseModel):
    """Unknown or misspelled keys are kept aside (and logged by the route), never a 500 or a 400."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def log_unknown_keys(self, endpoint: str) -> None:
        if self.model_extra:
            log.warning("%s: ignoring unknown keys %s", endpoint, sorted(self.model_extra))


class WireModel(BaseModel):
    """Responses: routes drop None values, because the TypeScript SDK rejects null on many keys."""

    model_config = ConfigDict(populate_by_name=True)

    def json_response(self) -> Response:
        """The same bytes FastAPI's `response_model_exclude_none` would send, serialised once: a route that returns
        its model instead has it dumped, validated again and dumped a second time (the polled read routes' cost)."""
        return Response(self.model_dump_json(by_alias=True, exclude_none=True), media_type="application/json")


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
