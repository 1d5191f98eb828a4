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

from rating.calendar import TouCalendar, utc_offsets
from rating.errors import NeedsIntervals, RatingError


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


def summarize(data: IntervalData, factor: Decimal, calendar: TouCalendar | None, zone: str,
              window_s: int | None = None) -> UsageSummary:
    return summarize_many([data], factor, calendar, zone, window_s)[0]


def summarize_many(agreements: list[IntervalData], factor: Decimal, calendar: TouCalendar | None,
                   zone: str, window_s: int | None = None) -> list[UsageSummary]:
    """Summaries of many agreements; agreements on one interval grid are done as one matrix."""
    if not agreements:
        return []
    first = agreements[0]
    if any(a.interval_s != first.interval_s or a.starts is not first.starts and not np.array_equal(a.starts, first.starts)
           for a in agreements[1:]):
        return [summarize_many([a], factor, calendar, zone, window_s)[0] for a in agreements]

    def matrix(values):
        return np.ascontiguousarray(np.vstack(values), dtype=np.int64)
    imported = matrix([a.imported for a in agreements])
    exported = None
    if any(a.exported is not None for a in agreements):
        exported = matrix([a.exported if a.exported is not None else np.zeros(len(first.starts), np.int64)
                           for a in agreements])
    demand = matrix([a.demand for a in agreements]) if all(a.demand is not None for a in agreements) else None
    reactive = [a.reactive for a in agreements]
    return summarize_matrix(first.starts, first.interval_s, imported, exported, factor, calendar, zone,
                            demand=demand, demand_factor=first.demand_factor, reactive=reactive, window_s=window_s)


def summarize_matrix(starts: np.ndarray, interval_s: int, imported: np.ndarray, exported: np.ndarray | None,
                     factor: Decimal, calendar: TouCalendar | None, zone: str, demand: np.ndarray | None = None,
                     demand_factor: Decimal = Decimal(1), reactive: list | None = None,
                     window_s: int | None = None) -> list[UsageSummary]:
    """Agreements as rows of one matrix on the interval grid ``starts`` (the way a bill run loads them).
    ``window_s``: demand over clock-aligned windows of that many seconds instead of single intervals."""
    rows = imported.shape[0]
    labels = calendar.labels(starts, zone) if calendar is not None else np.zeros(len(starts), np.int8)
    periods = len(calendar.periods) if calendar is not None else 1
    peaks = demand if demand is not None else imported
    to_demand = demand_factor if demand is not None else factor * 3600 / interval_s
    if demand is None and window_s and window_s != interval_s and len(starts):
        if window_s % interval_s:
            raise RatingError(f"a {window_s // 60}-minute demand window needs data in whole parts of it, "
                              f"not {interval_s}-second intervals")
        # window sums placed at each window's first interval: its label and position stand for the window
        group = (starts + utc_offsets(zone, starts) % window_s) // window_s
        bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        peaks = np.zeros_like(imported)
        peaks[:, bounds] = np.add.reduceat(imported, bounds, axis=1)
        to_demand = factor * 3600 / window_s
    no_export = np.zeros((0, 0), np.int64)
    from rating.interval_buckets import buckets  # Numba: imported where intervals are summarized

    sums, net, maxima, seen, totals, export_totals, net_export, peak, peak_at = buckets(
        imported, exported if exported is not None else no_export, peaks, labels.astype(np.int64), periods)
    names = [(number, calendar.periods[number]) for number in range(periods) if seen[number]] if calendar else []
    summaries = []
    for row in range(rows):
        power_factor = None
        if reactive and reactive[row] is not None and demand is None and len(starts) and peak[row] > 0:
            real = Decimal(int(peak[row]))
            reactive_value = Decimal(int(reactive[row][peak_at[row]]))
            power_factor = real / (real * real + reactive_value * reactive_value).sqrt()
        summaries.append(UsageSummary(
            imported=Decimal(int(totals[row])) * factor, exported=Decimal(int(export_totals[row])) * factor,
            net_export_intervals=Decimal(int(net_export[row])) * factor,
            by_period={name: Decimal(int(sums[row, n])) * factor for n, name in names},
            net_by_period={name: Decimal(int(net[row, n])) * factor for n, name in names},
            demand_by_period={name: Decimal(int(maxima[row, n])) * to_demand for n, name in names},
            max_demand=Decimal(int(peak[row])) * to_demand, power_factor=power_factor))
    return summaries


def summarize_hourly(agreements: int, row_agreement: np.ndarray, day_ordinal: np.ndarray, interval_s: np.ndarray,
                     totals: np.ndarray, peaks: np.ndarray, factors: list[Decimal],
                     calendar: TouCalendar | None, window_s: int | None = None) -> list[UsageSummary]:
    """Summaries from day rows kept as sums and largest intervals per wall-clock hour (rows x 24).

    Exact for time-of-use calendars, which are hour-granular: the same figures as from every interval.
    ``factors[a]`` turns agreement ``a``'s integers into the billing unit.
    """
    periods = len(calendar.periods) if calendar is not None else 1
    labels = calendar.hour_labels(day_ordinal) if calendar is not None else np.zeros((len(day_ordinal), 24), np.int64)
    # (hour-long windows are not taken from the hourly sums: a fall-back day's repeated wall-clock
    # hour holds two real hours)
    if window_s is None or (len(interval_s) and np.all(interval_s == window_s)):
        # a peak interval's energy x intervals per hour = its average demand in energy units per hour
        per_hour = np.where(interval_s > 0, 3600 // np.maximum(interval_s, 1), 0)
        demand = peaks * per_hour[:, None]
    else:
        raise NeedsIntervals(f"{window_s // 60}-minute demand needs the intervals, not hourly sums")
    # per row and period first (exact int64), then per agreement over its rows
    row_sums = np.empty((len(labels), periods), np.int64)
    row_hours = np.empty((len(labels), periods), np.int64)
    row_maxima = np.empty((len(labels), periods), np.int64)
    for period in range(periods):
        mask = labels == period
        row_sums[:, period] = np.where(mask, totals, 0).sum(axis=1)
        row_hours[:, period] = mask.sum(axis=1)
        row_maxima[:, period] = np.where(mask, demand, 0).max(axis=1, initial=0)
    sums = np.zeros((agreements, periods), np.int64)
    seen = np.zeros((agreements, periods), np.int64)
    maxima = np.zeros((agreements, periods), np.int64)
    if len(labels):
        order = np.argsort(row_agreement, kind="stable")
        owners = row_agreement[order]
        starts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
        sums[owners[starts]] = np.add.reduceat(row_sums[order], starts, axis=0)
        seen[owners[starts]] = np.add.reduceat(row_hours[order], starts, axis=0)
        maxima[owners[starts]] = np.maximum.reduceat(row_maxima[order], starts, axis=0)
    summaries = []
    names = calendar.periods if calendar is not None else ()
    for factor, sums_of, seen_of, maxima_of in zip(factors, sums.tolist(), seen.tolist(), maxima.tolist()):
        used = [(name, Decimal(sums_of[p]) * factor, Decimal(maxima_of[p]) * factor)
                for p, name in enumerate(names) if seen_of[p]]
        summaries.append(UsageSummary(
            imported=Decimal(sum(sums_of)) * factor,
            by_period={name: quantity for name, quantity, _ in used},
            net_by_period={name: quantity for name, quantity, _ in used},
            demand_by_period={name: demand for name, _, demand in used},
            max_demand=Decimal(max(maxima_of, default=0)) * factor))
    return summaries
