"""Demand: the period's maximum demand (all hours, or one TOU period's) at a price per kW, over the
data's interval or a longer clock-aligned window (``window_minutes``: 30-minute demand from 15-minute
reads), with an
optional ratchet (a percentage of the highest demand of the last N months) and power-factor
adjustment (demand x target / actual when the power factor at the peak is below the target).
Prorated by days for partial periods and rate-change segments."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges.base import COMMON_KEYS, Line, Usage, no_unknown_keys
from rating.errors import NeedsIntervals


@dataclass(frozen=True)
class DemandCharge:
    code: str
    description: str
    unit_price: Decimal  # per kW (billing unit per hour)
    period: str | None = None  # a TOU period, or None for the maximum of all hours
    ratchet_percent: Decimal | None = None
    ratchet_months: int = 11
    power_factor_target: Decimal | None = None
    window_minutes: int | None = None  # None: the interval of the data
    @classmethod
    def from_table(cls, reader, table: dict, path: str) -> "DemandCharge | None":
        code = reader.text(table, "code", path)
        description = reader.text(table, "description", path, required=False) or code
        price = reader.decimal(table, "price", path)
        period = reader.text(table, "period", path, required=False)
        ratchet = reader.decimal(table, "ratchet_percent", path, required=False)
        target = reader.decimal(table, "power_factor_target", path, required=False)
        months = table.get("ratchet_months", 11)
        window = table.get("window_minutes")
        no_unknown_keys(reader, table, path, COMMON_KEYS | {"price", "period", "ratchet_percent", "ratchet_months",
                                                          "power_factor_target", "window_minutes"})
        if window is not None and (not isinstance(window, int) or window not in (5, 10, 15, 30, 60)):
            reader.problem(f"{path}window_minutes", "bad_window", "window_minutes is 5, 10, 15, 30 or 60")
            return None
        if not isinstance(months, int) or not 1 <= months <= 36:
            reader.problem(f"{path}ratchet_months", "bad_months", "ratchet_months is 1..36")
            return None
        if target is not None and not 0 < target <= 1:
            reader.problem(f"{path}power_factor_target", "bad_power_factor", "a power factor is in (0, 1]")
            return None
        if code is None or price is None:
            return None
        return cls(code, description, price, period, ratchet, months, target, window)

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        summary = usage.summary
        if summary.max_demand is None:
            raise NeedsIntervals(f"charge {self.code} prices demand: interval data are needed")
        demand = summary.max_demand if self.period is None else summary.demand_by_period.get(self.period, Decimal(0))
        lines_note = []
        if self.ratchet_percent is not None:
            history = usage.history.peak_demands[:self.ratchet_months]  # none yet: a new customer
            ratchet = max(history, default=Decimal(0)) * self.ratchet_percent / 100
            if ratchet > demand:
                demand = ratchet
                lines_note.append("ratchet")
        if self.power_factor_target is not None and summary.power_factor and summary.power_factor < self.power_factor_target:
            demand = demand * self.power_factor_target / summary.power_factor
            lines_note.append("power factor")
        description = self.description + (f" ({', '.join(lines_note)})" if lines_note else "")
        unit = "kW" if billing_unit == "kWh" else f"{billing_unit}/h"
        amount = usage.fixed_share.of(demand * self.unit_price)
        return [Line(self.code, description, demand, unit, self.unit_price, amount)]
