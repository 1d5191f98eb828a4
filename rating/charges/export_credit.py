"""Credit for energy a customer sends to the grid (solar): net billing per interval (export above
the interval's own import) or the month's excess after netting, at a price per unit."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys

BASES = ("interval_net", "monthly_excess", "all_export")


@dataclass(frozen=True)
class ExportCreditCharge:
    code: str
    description: str
    unit_price: Decimal  # per unit exported
    basis: str = "interval_net"

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "ExportCreditCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        price = reader.decimal(table, "price", path)
        basis = table.get("basis", "interval_net")
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"price", "basis"})
        if basis not in BASES:
            reader.problem(f"{path}basis", "unknown_basis", f"basis is one of {', '.join(BASES)}")
            return None
        return None if code is None or price is None else cls(code, description, price, basis)

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        summary = usage.summary
        if self.basis == "interval_net":
            quantity = summary.net_export_intervals
        elif self.basis == "monthly_excess":
            quantity = max(summary.exported - summary.imported, Decimal(0))
        else:
            quantity = summary.exported
        if quantity <= 0:
            return []
        return [Line(self.code, self.description, quantity, billing_unit, -self.unit_price, -quantity * self.unit_price)]
