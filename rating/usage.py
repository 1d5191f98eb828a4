"""What a service agreement used, summarized for pricing.

Interval data is summarized with NumPy once per (service agreement, period segment) and for many
agreements at a time (:func:`summarize`): sums and maxima per time-of-use period, net export, season
sums. Charges then work on the summary only, in exact Decimals. Interval values stay integers in the
meter's unit x ``factor`` (a Decimal that converts to the tariff's billing unit), so every sum is exact.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from rating.calendar import TouCalendar


@dataclass(frozen=True)
class IntervalData:
    """One agreement's intervals: starts (epoch s, sorted), delivered (import) and received (export)
    integers in the meter's unit, optional reactive energy (same scale), all the same length."""

    starts: np.ndarray
    interval_s: int
    imported: np.ndarray
    exported: np.ndarray | None = None
    reactive: np.ndarray | None = None
    demand: np.ndarray | None = None  # measured demand per interval, x ``demand_factor`` = kW
    demand_factor: Decimal = Decimal(1)

    def window(self, start: int, end: int) -> "IntervalData":
        lo, hi = np.searchsorted(self.starts, [start, end])
        cut = slice(int(lo), int(hi))

        def part(values):
            return None if values is None else values[cut]
        return IntervalData(self.starts[cut], self.interval_s, self.imported[cut], part(self.exported),
                            part(self.reactive), part(self.demand), self.demand_factor)


@dataclass(frozen=True)
class Share:
    """A part of a whole as a ratio of integers (days billed of days in the period), applied to a
    Decimal by multiplying first and dividing last, so whole results stay exact."""

    part: int
    whole: int

    def of(self, value: Decimal) -> Decimal:
        return value if self.part == self.whole else value * self.part / self.whole

    @property
    def is_whole(self) -> bool:
        return self.part == self.whole


@dataclass
class UsageSummary:
    """Quantities in the tariff's billing unit (exact Decimals); demand in billing unit per hour
    (kWh per hour = kW)."""

    imported: Decimal
    exported: Decimal = Decimal(0)
    net_export_intervals: Decimal = Decimal(0)  # sum over intervals of max(export - import, 0)
    by_period: dict[str, Decimal] = field(default_factory=dict)  # import per TOU period
    net_by_period: dict[str, Decimal] = field(default_factory=dict)  # import - export per TOU period
    demand_by_period: dict[str, Decimal] = field(default_factory=dict)  # maximum demand per TOU period
    max_demand: Decimal | None = None  # None: no interval data
    power_factor: Decimal | None = None  # at the interval of maximum demand, where reactive data exist

    def scaled(self, share: Share) -> "UsageSummary":
        """The share of a period's energy allocated to a segment by days; demands are not scaled."""
        return UsageSummary(share.of(self.imported), share.of(self.exported), share.of(self.net_export_intervals),
                            {k: share.of(v) for k, v in self.by_period.items()},
                            {k: share.of(v) for k, v in self.net_by_period.items()},
                            dict(self.demand_by_period), self.max_demand, self.power_factor)


    def times(self, factor: Decimal) -> "UsageSummary":
        """Every energy and demand figure multiplied by ``factor`` (a volume to therms conversion)."""
        return UsageSummary(self.imported * factor, self.exported * factor, self.net_export_intervals * factor,
                            {k: v * factor for k, v in self.by_period.items()},
                            {k: v * factor for k, v in self.net_by_period.items()},
                            {k: v * factor for k, v in self.demand_by_period.items()},
                            None if self.max_demand is None else self.max_demand * factor, self.power_factor)


def summary_from_quantity(quantity: Decimal, exported: Decimal = Decimal(0)) -> UsageSummary:
    """For usage known only as a total (no intervals): no time-of-use or demand figures."""
    return UsageSummary(quantity, exported)


def summarize(data: IntervalData, factor: Decimal, calendar: TouCalendar | None, zone: str) -> UsageSummary:
    return summarize_many([data], factor, calendar, zone)[0]


def summarize_many(agreements: list[IntervalData], factor: Decimal, calendar: TouCalendar | None,
                   zone: str) -> list[UsageSummary]:
    """Summaries of many agreements; agreements on one interval grid are done as one matrix."""
    if not agreements:
        return []
    grid = agreements[0].starts
    same_grid = all(a.interval_s == agreements[0].interval_s and np.array_equal(a.starts, grid)
                    for a in agreements[1:])
    if not same_grid:
        return [summarize_many([a], factor, calendar, zone)[0] for a in agreements]
    imported = np.vstack([a.imported for a in agreements]).astype(np.int64)
    has_export = any(a.exported is not None for a in agreements)
    exported = np.vstack([a.exported if a.exported is not None else np.zeros(len(grid), np.int64)
                          for a in agreements]).astype(np.int64) if has_export else None
    count = len(agreements)
    totals = imported.sum(axis=1)
    export_totals = exported.sum(axis=1) if has_export else np.zeros(count, np.int64)
    net_export = np.maximum(exported - imported, 0).sum(axis=1) if has_export else np.zeros(count, np.int64)
    # demand from measured demand where given, else from each interval's energy
    measured = all(a.demand is not None for a in agreements)
    peaks = np.vstack([a.demand for a in agreements]).astype(np.int64) if measured else imported
    max_interval = peaks.max(axis=1) if len(grid) else np.zeros(count, np.int64)
    arg_max = peaks.argmax(axis=1) if len(grid) else np.zeros(count, np.int64)
    by_period = [dict() for _ in range(count)]
    net_by_period = [dict() for _ in range(count)]
    max_by_period = [dict() for _ in range(count)]
    if calendar is not None and len(grid):
        labels = calendar.labels(grid, zone)
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        present = np.unique(sorted_labels)
        bounds = np.searchsorted(sorted_labels, present)
        ordered = imported[:, order]
        sums = np.add.reduceat(ordered, bounds, axis=1)
        maxima = np.maximum.reduceat(peaks[:, order], bounds, axis=1)
        net = np.add.reduceat((imported - exported)[:, order], bounds, axis=1) if has_export else sums
        for column, number in enumerate(present.tolist()):
            name = calendar.periods[number]
            for row in range(count):
                by_period[row][name] = int(sums[row, column])
                net_by_period[row][name] = int(net[row, column])
                max_by_period[row][name] = int(maxima[row, column])
    to_demand = agreements[0].demand_factor if measured else factor * 3600 / agreements[0].interval_s
    summaries = []
    for row, agreement in enumerate(agreements):
        power_factor = None
        if agreement.reactive is not None and not measured and len(grid) and max_interval[row] > 0:
            real = Decimal(int(max_interval[row]))
            reactive = Decimal(int(agreement.reactive[arg_max[row]]))
            power_factor = real / (real * real + reactive * reactive).sqrt()
        summaries.append(UsageSummary(
            imported=Decimal(int(totals[row])) * factor, exported=Decimal(int(export_totals[row])) * factor,
            net_export_intervals=Decimal(int(net_export[row])) * factor,
            by_period={k: Decimal(v) * factor for k, v in by_period[row].items()},
            net_by_period={k: Decimal(v) * factor for k, v in net_by_period[row].items()},
            demand_by_period={k: Decimal(v) * to_demand for k, v in max_by_period[row].items()},
            max_demand=Decimal(int(max_interval[row])) * to_demand, power_factor=power_factor))
    return summaries
