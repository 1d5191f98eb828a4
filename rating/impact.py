"""Rate-change impact: the same usage priced under the current and a proposed tariff, summarized as
revenue difference and the distribution of bill changes across customers."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from rating.errors import RatingError
from rating.pricing import UsageInput, rate
from rating.tariff import Tariff


@dataclass(frozen=True)
class Customer:
    key: str  # account or agreement number shown in the report
    usage: UsageInput
    attributes: dict[str, str]


@dataclass(frozen=True)
class Change:
    key: str
    current_minor: int
    proposed_minor: int

    @property
    def difference_minor(self) -> int:
        return self.proposed_minor - self.current_minor

    @property
    def percent(self) -> float | None:
        return None if self.current_minor == 0 else 100.0 * self.difference_minor / self.current_minor


@dataclass(frozen=True)
class ImpactReport:
    customers: int
    current_revenue_minor: int
    proposed_revenue_minor: int
    percentiles: dict[str, dict[int, float]]  # "difference_minor"/"percent" -> {p: value}
    largest: list[Change]  # by absolute difference
    failed: dict[str, str]  # key -> rating error code
    percents: tuple[float, ...] = ()  # every priced bill's change in percent (bills that were not zero)

    @property
    def revenue_difference_minor(self) -> int:
        return self.proposed_revenue_minor - self.current_revenue_minor


def impact(current: Tariff, proposed: Tariff, period_start: date, period_end: date, customers: list[Customer],
           zone: str, top: int = 10, percentiles=(5, 25, 50, 75, 95)) -> ImpactReport:
    changes: list[Change] = []
    failed: dict[str, str] = {}
    for customer in customers:
        try:
            before = rate(current, period_start, period_end, customer.usage, zone=zone, attributes=customer.attributes)
            after = rate(proposed, period_start, period_end, customer.usage, zone=zone, attributes=customer.attributes)
        except RatingError as error:
            failed[customer.key] = error.code
            continue
        changes.append(Change(customer.key, before.total_minor, after.total_minor))
    differences = np.array([c.difference_minor for c in changes], dtype=np.float64)
    percents = np.array([c.percent for c in changes if c.percent is not None], dtype=np.float64)
    table = {"difference_minor": {}, "percent": {}}
    for p in percentiles:
        if len(differences):
            table["difference_minor"][p] = float(np.percentile(differences, p))
        if len(percents):
            table["percent"][p] = round(float(np.percentile(percents, p)), 2)
    largest = sorted(changes, key=lambda c: (-abs(c.difference_minor), c.key))[:top]
    return ImpactReport(len(changes), sum(c.current_minor for c in changes), sum(c.proposed_minor for c in changes),
                        table, largest, failed, tuple(float(p) for p in percents))
