"""Price a service agreement's usage under a tariff version: a final bill, a bill-to-date, a projection."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rating.charges import Usage
from rating.money import to_minor
from rating.tariff import Tariff, TariffVersion


@dataclass(frozen=True)
class PricedLine:
    code: str
    description: str
    quantity: Decimal
    unit: str
    price: Decimal | None
    amount: Decimal  # exact
    amount_minor: int  # rounded once, half-up, to the currency's minor unit
    tariff_version: str


@dataclass(frozen=True)
class Quote:
    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


def price_usage(tariff: Tariff, version: TariffVersion, usage: Usage) -> Quote:
    lines = []
    for charge in version.charges:
        for line in charge.price(usage, tariff.billing_unit):
            lines.append(PricedLine(line.code, line.description, line.quantity, line.unit, line.price,
                                    line.amount, to_minor(line.amount, tariff.currency), version.label))
    return Quote(tariff.currency, tuple(lines))


@dataclass(frozen=True)
class Estimate:
    bill_to_date: Quote
    projected: Quote
    days_elapsed: int
    days_in_period: int


def estimate(tariff: Tariff, version: TariffVersion, quantity_to_date: Decimal, days_elapsed: int,
             days_in_period: int) -> Estimate:
    """Bill-to-date (fixed charges prorated to the days elapsed) and the projected whole-period bill
    (usage extrapolated linearly from the days elapsed)."""
    days_elapsed = max(1, min(days_elapsed, days_in_period))
    to_date = price_usage(tariff, version, Usage(quantity_to_date, days_in_period, days_elapsed))
    projected_quantity = quantity_to_date * days_in_period / days_elapsed
    projected = price_usage(tariff, version, Usage(projected_quantity, days_in_period, days_in_period))
    return Estimate(to_date, projected, days_elapsed, days_in_period)
