"""Minimum and maximum charges: bring the sum of earlier lines (all, or those selected by ``of``) up
to a minimum bill, or down to a cap; prorated by days like fixed charges."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys


@dataclass(frozen=True)
class LimitCharge:
    code: str
    description: str
    amount: Decimal
    minimum: bool  # True: minimum bill; False: maximum
    of: tuple[str, ...] = ()

    @classmethod
    def reader_for(cls, minimum: bool):
        def from_table(reader, table: dict, path: str) -> "LimitCharge | None":
            code = reader.text(table, "code", path)
            description = reader.text(table, "description", path, required=False) or code
            amount = reader.decimal(table, "amount", path)
            of = table.get("of", [])
            no_unknown_keys(reader, table, path, COMMON_KEYS | {"amount", "of"})
            if not isinstance(of, list):
                reader.problem(f"{path}of", "not_a_list", "of is a list of line-code prefixes")
                return None
            return None if code is None or amount is None else cls(code, description, amount, minimum, tuple(of))
        return from_table

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        base = sum((line.amount for line in earlier
                    if not self.of or any(line.code == p or line.code.startswith(p + ".") for p in self.of)),
                   Decimal(0))
        limit = usage.fixed_share.of(self.amount)
        if (self.minimum and base < limit) or (not self.minimum and base > limit):
            return [Line(self.code, self.description, Decimal(1), "adjustment", None, limit - base)]
        return []
