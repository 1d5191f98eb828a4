"""A fixed (customer, service or meter) charge per billing period: one amount, or an amount by a
customer attribute such as meter size; prorated by days for partial periods."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys
from rating.errors import MissingAttribute


@dataclass(frozen=True)
class FixedCharge:
    code: str
    description: str
    amount: Decimal | None  # per whole billing period
    by_attribute: str | None = None
    amounts: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "FixedCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"amount", "by_attribute", "amounts"})
        by_attribute = reader.text(table, "by_attribute", path, required=False)
        if by_attribute is None:
            amount = reader.decimal(table, "amount", path)
            return None if code is None or amount is None else cls(code, description, amount)
        raw = table.get("amounts")
        if not isinstance(raw, dict) or not raw:
            reader.problem(f"{path}amounts", "missing", f"amounts by {by_attribute} are required")
            return None
        amounts = {}
        for key in raw:
            value = reader.decimal(raw, key, f"{path}amounts.")
            if value is not None:
                amounts[str(key)] = value
        if code is None or len(amounts) != len(raw):
            return None
        return cls(code, description, None, by_attribute, amounts)

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        amount = self.amount
        if self.by_attribute is not None:
            value = usage.attributes.get(self.by_attribute)
            if value not in self.amounts:
                raise MissingAttribute(f"charge {self.code} needs {self.by_attribute} (one of "
                                       f"{', '.join(self.amounts)}), got {value!r}")
            amount = self.amounts[value]
        if usage.fixed_share.is_whole:
            return [Line(self.code, self.description, Decimal(1), "period", amount, amount)]
        return [Line(self.code, self.description, Decimal(usage.days_billed), "day",
                     amount / usage.days_in_period, usage.fixed_share.of(amount))]
