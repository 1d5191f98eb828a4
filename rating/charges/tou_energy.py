"""Time-of-use energy: each TOU period's quantity at that period's price (or through its own tiers)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys
from rating.charges.tiered import Tier, price_tiers, read_tiers
from rating.errors import NeedsIntervals


@dataclass(frozen=True)
class TouEnergyCharge:
    code: str
    description: str
    prices: dict[str, Decimal | tuple[Tier, ...]]  # by period name, in calendar order
    net: bool = False  # price import minus export per period (monthly netting), excess not priced here

    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "TouEnergyCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"prices", "net"})
        raw = table.get("prices")
        if not isinstance(raw, dict) or not raw:
            reader.problem(f"{path}prices", "missing", "a price (or tiers) per TOU period is required")
            return None
        prices: dict = {}
        for period, value in raw.items():
            if isinstance(value, list):
                tiers = read_tiers(reader, value, f"{path}prices.{period}")
                if tiers is not None:
                    prices[period] = tiers
            else:
                price = reader.decimal(raw, period, f"{path}prices.", minimum=None)
                if price is not None:
                    prices[period] = price
        if code is None or len(prices) != len(raw):
            return None
        return cls(code, description, prices, bool(table.get("net", False)))

    def periods(self) -> list[str]:
        return list(self.prices)

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        summary = usage.summary
        source = summary.net_by_period if self.net else summary.by_period
        if not source and usage.quantity:
            raise NeedsIntervals(f"charge {self.code} prices time-of-use periods: interval data are needed")
        lines = []
        for period, price in self.prices.items():
            if period not in source:
                continue  # the period does not occur in these days (another season)
            quantity = max(source[period], Decimal(0))
            label = f"{self.description} ({period.replace('_', ' ')})"
            if isinstance(price, tuple):
                lines.extend(price_tiers(f"{self.code}.{period}", label, price, quantity, usage.tier_share, None,
                                         billing_unit))
            else:
                lines.append(Line(f"{self.code}.{period}", label, quantity, billing_unit, price, quantity * price))
        return lines
