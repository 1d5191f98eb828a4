"""Riders, surcharges and taxes: per unit of the quantity, or a percentage of earlier lines (all of
them, or those whose codes start with one of ``of``). Date switches (``active_from``/``active_until``)
and customer-class filters (``only_for``) are common to every charge."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys


@dataclass(frozen=True)
class RiderCharge:
    code: str
    description: str
    per_unit: Decimal | None = None
    percent: Decimal | None = None
    of: tuple[str, ...] = ()

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "RiderCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        per_unit = reader.decimal(table, "per_unit", path, required=False, minimum=None)
        percent = reader.decimal(table, "percent", path, required=False, minimum=None)
        of = table.get("of", [])
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"per_unit", "percent", "of"})
        if (per_unit is None) == (percent is None):
            reader.problem(path.rstrip("."), "rider_needs_one_rate", "give exactly one of per_unit or percent")
            return None
        if not isinstance(of, list) or not all(isinstance(c, str) for c in of):
            reader.problem(f"{path}of", "not_a_list", "of is a list of line-code prefixes")
            return None
        return None if code is None else cls(code, description, per_unit, percent, tuple(of))

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        if self.per_unit is not None:
            return [Line(self.code, self.description, usage.quantity, billing_unit, self.per_unit,
                         usage.quantity * self.per_unit)]
        if self.of:
            base = sum((line.amount for line in earlier if self._selects(line.code)), Decimal(0))
        else:
            base = sum((line.amount for line in earlier), Decimal(0))
        return [Line(self.code, self.description, base, "currency", self.percent / 100, base * self.percent / 100)]

    def _selects(self, code: str) -> bool:
        return not self.of or any(code == prefix or code.startswith(prefix + ".") for prefix in self.of)
