"""The interface every charge implements, and what it takes and returns."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Usage:
    """What one service agreement used in (part of) a billing period, in the tariff's billing unit.

    ``days_billed`` of ``days_in_period``: a whole period has both equal; a partial first or last
    period, or a bill-to-date, has fewer days billed.
    """

    quantity: Decimal
    days_in_period: int
    days_billed: int

    @property
    def fraction_of_period(self) -> Decimal:
        return Decimal(self.days_billed) / Decimal(self.days_in_period)


@dataclass(frozen=True)
class Line:
    """One priced bill line, before rounding. ``amount`` is exact; rounding happens once, later."""

    code: str
    description: str
    quantity: Decimal
    unit: str
    price: Decimal | None
    amount: Decimal


class Charge(Protocol):
    code: str
    description: str

    def price(self, usage: Usage, billing_unit: str) -> list[Line]:
        """Bill lines for ``usage``; amounts exact (Decimal), not rounded."""
        ...
