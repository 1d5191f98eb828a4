"""The interface every charge implements, and what it takes and returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple, Protocol

from rating.usage import Share, UsageSummary, summary_from_quantity


@dataclass(frozen=True)
class History:
    """What earlier periods say, for charges that look back: demand ratchets, sewer on winter average."""

    peak_demands: tuple[Decimal, ...] = ()  # maximum demand of each earlier month, newest first
    winter_average: Decimal | None = None  # average water use per period over the last winter


@dataclass
class Usage:
    """What one service agreement used in a billing period, or in a segment of one.

    ``days_billed`` of ``days_in_period``: a whole period has both equal; a move-in, move-out or a
    rate change makes segments with fewer days. ``fixed_share`` and ``tier_share`` scale fixed
    charges and tier widths (both the days fraction by default; a bill-to-date prorates fixed charges
    but keeps whole-period tiers).
    """

    quantity: Decimal
    days_in_period: int
    days_billed: int
    summary: UsageSummary | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    history: History = field(default_factory=History)
    segment_start: date | None = None
    segment_end: date | None = None
    fixed_share: Share | None = None
    tier_share: Share | None = None

    def __post_init__(self) -> None:
        if self.summary is None:
            self.summary = summary_from_quantity(self.quantity)
        if self.fixed_share is None:
            self.fixed_share = Share(self.days_billed, self.days_in_period)
        if self.tier_share is None:
            self.tier_share = Share(self.days_billed, self.days_in_period)

    @property
    def whole_period(self) -> bool:
        return self.days_billed == self.days_in_period


class Line(NamedTuple):
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

    def price(self, usage: Usage, billing_unit: str, earlier: list[Line]) -> list[Line]:
        """Bill lines for ``usage``; ``earlier`` holds the lines of the charges before this one."""
        ...


def no_unknown_keys(reader, table: dict, path: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            reader.problem(f"{path}{key}", "unknown_key", "is not part of this charge kind")


# handled by the tariff version for every charge: customer-class filters, seasons, date switches
COMMON_KEYS = {"kind", "code", "description", "only_for", "months", "active_from", "active_until"}
