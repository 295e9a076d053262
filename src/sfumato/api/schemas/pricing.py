"""POST /pricing-calculator: wire shapes. `serviceParams` is keyed by the UPPER_CASE service name, as both SDKs
send it; its inner keys are checked by services/credits/calculator.py (a 400 that names the field)."""

from __future__ import annotations

from typing import Any, ClassVar

from sfumato.api.schemas.common import TolerantBody, WireModel
from sfumato.services.credits import SERVICES


class PricingCalculatorBody(TolerantBody):
    # The SDKs let the body be left out; the server cannot price nothing (a 400 naming `service`), so the spec
    # says what the server needs.
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("service",)
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"service": SERVICES}
    service: Any = None  # PricingCalculatorServices; checked by the service, so a wrong one is a 400 naming it
    serviceParams: Any = None


class CalculatedCost(WireModel):
    cost: int  # whole credits, as the reference says (an integer, not the {amount, unit} object)


class PricingCalculatorResponse(WireModel):
    calculateProductionApiServiceCost: CalculatedCost
