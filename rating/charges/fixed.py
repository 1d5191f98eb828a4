"""A fixed (customer, service or meter) charge per billing period, prorated by days for partial periods."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import Line, Usage


@dataclass(frozen=True)
class FixedCharge:
    code: str
    description: str
    amount: Decimal  # per whole billing period

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "FixedCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        amount = reader.decimal(table, "amount", path)
        _no_unknown_keys(reader, table, path, {"kind", "code", "description", "amount"})
        if code is None or amount is None:
            return None
        return cls(code, description, amount)

    def price(self, usage: Usage, billing_unit: str) -> list[Line]:
        if usage.days_billed == usage.days_in_period:
            return [Line(self.code, self.description, Decimal(1), "period", self.amount, self.amount)]
        fraction = usage.fraction_of_period
        return [Line(self.code, self.description, Decimal(usage.days_billed), "day",
                     self.amount / usage.days_in_period, self.amount * fraction)]


def _no_unknown_keys(reader, table: dict, path: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            reader.problem(f"{path}{key}", "unknown_key", "is not part of this charge kind")
