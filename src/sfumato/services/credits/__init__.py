"""Credits: the price table, the pricing calculator, the quotes of each kind of job, and the ledger that charges
and refunds them against per-user balances (docs/credits.md)."""

from sfumato.services.credits.calculator import SERVICES, calculate
from sfumato.services.credits.ledger import Balance, ChargeRecord, Credits
from sfumato.services.credits.table import DEFAULT_TABLE, PriceTable, PriceTableError

__all__ = [
    "DEFAULT_TABLE",
    "SERVICES",
    "Balance",
    "ChargeRecord",
    "Credits",
    "PriceTable",
    "PriceTableError",
    "calculate",
]
