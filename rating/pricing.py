"""Price a service agreement's usage for a billing period under a tariff: a final bill, a bill-to-date,
a projection.

A period is split into segments where the tariff changes (a new version takes effect, a seasonal
charge starts or stops, a surcharge is switched on or off by date) and where service starts or ends
(move-in, move-out). Each segment is priced with the version in force on its first day. Usage is
allocated to segments by days (``proration="days"``: the default, and the only choice when only a
total is known) or by the consumption measured in each segment (``"consumption"``, from intervals).
Tier widths and fixed charges follow the segment's share of the period's days, so splitting a period
whose rates do not change gives the same total as not splitting it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from rating.charges import History, Line, Usage
from rating.errors import RatingError
from rating.money import MINOR_UNITS, round_minor
from rating.tariff import Tariff, TariffVersion
from rating.usage import IntervalData, Share, UsageSummary, summarize, summary_from_quantity

PRORATIONS = ("days", "consumption")


class PricedLine(NamedTuple):
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


@dataclass(frozen=True)
class UsageInput:
    """A total quantity in the billing unit, or intervals with ``factor`` (meter unit -> billing unit).
    ``summary`` may carry the billed range's summary already computed (see ``rating.usage.summarize_many``).
    For a tariff billed in therms, ``in_ccf`` says the quantities are gas volume in CCF: each segment
    converts them with the heating value of the version in force."""

    quantity: Decimal | None = None
    exported: Decimal = Decimal(0)
    intervals: IntervalData | None = None
    factor: Decimal = Decimal(1)
    summary: UsageSummary | None = None
    in_ccf: bool = False


def price_lines(tariff: Tariff, version: TariffVersion, usage: Usage) -> list[Line]:
    """The exact (unrounded) lines of every charge of ``version`` that applies to ``usage``."""
    lines: list[Line] = []
    day = usage.segment_start
    for rule in version.rules:
        if not rule.applies_to(usage.attributes):
            continue
        if day is not None and not rule.active_on(day):
            continue
        lines.extend(rule.charge.price(usage, tariff.billing_unit, lines))
    return lines


def price_usage(tariff: Tariff, version: TariffVersion, usage: Usage) -> Quote:
    """One segment (or a whole period) under one version, rounded per line."""
    return Quote(tariff.currency, tuple(_rounded(tariff, version, price_lines(tariff, version, usage))))


def _rounded(tariff: Tariff, version: TariffVersion, lines: list[Line], suffix: str = "") -> list[PricedLine]:
    """Each line rounded once to the currency's minor unit (``rating.money``), tagged with its version."""
    label, exponent = version.label, MINOR_UNITS[tariff.currency]
    return [PricedLine(line.code, line.description + suffix if suffix else line.description, line.quantity,
                       line.unit, line.price, line.amount,
                       round_minor(line.amount, exponent), label)
            for line in lines]


def segments(tariff: Tariff, start: date, end: date) -> list[tuple[date, date, TariffVersion]]:
    """[start, end) cut where the tariff changes: versions, seasonal membership, date switches."""
    cache = tariff.__dict__.setdefault("_segments", {})  # a tariff is immutable: its cuts never change
    found = cache.get((start, end))
    if found is None:
        found = cache[(start, end)] = _segments(tariff, start, end)
    return found


def _segments(tariff: Tariff, start: date, end: date) -> list[tuple[date, date, TariffVersion]]:
    cuts = {start, end}
    for version in tariff.versions:
        if start < version.effective_from < end:
            cuts.add(version.effective_from)
    ordered = sorted(cuts)
    more = set()
    for first, last in zip(ordered[:-1], ordered[1:]):
        version = tariff.version_on(first)
        more.update(d for d in version.switch_days() if first < d < last)
        if version.seasonal:
            month = date(first.year, first.month, 1)
            while True:
                month = (month + timedelta(days=32)).replace(day=1)
                if month >= last:
                    break
                previous = month - timedelta(days=1)
                if any(rule.months is not None and (previous.month in rule.months) != (month.month in rule.months)
                       for rule in version.rules):
                    more.add(month)
    ordered = sorted(cuts | more)
    return [(a, b, tariff.version_on(a)) for a, b in zip(ordered[:-1], ordered[1:])]


def _midnight(day: date, zone: str) -> int:
    return int(datetime.combine(day, time(0), ZoneInfo(zone)).timestamp())


def rate(tariff: Tariff, period_start: date, period_end: date, usage: UsageInput, *, zone: str,
         attributes: dict[str, str] | None = None, history: History | None = None,
         service_from: date | None = None, service_to: date | None = None, proration: str | None = None,
         whole_period_tiers: bool = False, served_days: int | None = None) -> Quote:
    """Price the billed part of [period_start, period_end) (the part where service was active).

    ``proration`` (default: the tariff's) splits usage between segments by days or by consumption.
    ``whole_period_tiers``: tier widths stay those of the whole period although fewer days are billed
    (a bill-to-date), prorated only to the ``served_days`` the service spans in the whole period
    (default: all of them); fixed charges are prorated by days either way.
    """
    proration = proration or tariff.proration
    if proration not in PRORATIONS:
        raise RatingError(f"proration is one of {', '.join(PRORATIONS)}")
    billed_start = max(period_start, service_from or period_start)
    billed_end = min(period_end, service_to or period_end)
    if billed_end <= billed_start:
        return Quote(tariff.currency, ())
    attributes = attributes or {}
    history = history or History()
    period_days = (period_end - period_start).days
    billed_days = (billed_end - billed_start).days
    parts = segments(tariff, billed_start, billed_end)
    whole: dict[int, UsageSummary] = {}  # the billed range's summary, per TOU calendar
    lines: list[PricedLine] = []
    for first, last, version in parts:
        days = (last - first).days
        if usage.summary is not None and len(parts) == 1:
            summary = usage.summary
        elif proration == "consumption" and usage.intervals is not None:
            summary = _summary(usage, zone, first, last, version)
        else:
            key = id(version.calendar)
            if key not in whole:
                whole[key] = _summary(usage, zone, billed_start, billed_end, version)
            summary = whole[key] if len(parts) == 1 else whole[key].scaled(Share(days, billed_days))
        if usage.in_ccf and tariff.billing_unit == "therm":
            summary = summary.times(version.therms_per_ccf)
        quantity = summary.imported
        if version.netting == "monthly":
            quantity = max(summary.imported - summary.exported, Decimal(0))
        tier_share = Share(days * (served_days or period_days), billed_days * period_days) if whole_period_tiers \
            else Share(days, period_days)
        segment_usage = Usage(quantity, period_days, days, summary, attributes, history, first, last,
                              fixed_share=Share(days, period_days), tier_share=tier_share)
        suffix = "" if len(parts) == 1 else f" ({first:%b %d}-{last - timedelta(days=1):%b %d})"
        lines.extend(_rounded(tariff, version, price_lines(tariff, version, segment_usage), suffix))
    return Quote(tariff.currency, tuple(lines))


def _summary(usage: UsageInput, zone: str, first: date, last: date, version: TariffVersion) -> UsageSummary:
    if usage.intervals is None:
        return usage.summary or summary_from_quantity(usage.quantity or Decimal(0), usage.exported)
    data = usage.intervals.window(_midnight(first, zone), _midnight(last, zone))
    return summarize(data, usage.factor, version.calendar, zone, version.demand_window_s)


@dataclass(frozen=True)
class Estimate:
    bill_to_date: Quote
    projected: Quote
    days_elapsed: int
    days_in_period: int


def estimate(tariff: Tariff, period_start: date, period_end: date, usage_to_date: UsageInput | Decimal,
             days_elapsed: int, *, zone: str, attributes: dict[str, str] | None = None,
             in_ccf: bool = False, service_from: date | None = None, service_to: date | None = None,
             use_ends: date | None = None) -> Estimate:
    """Bill-to-date (fixed charges prorated to the days elapsed, whole-period tiers) and the projected
    whole-period bill (energy extrapolated linearly from the days elapsed; demands as measured so far),
    of the days the service is in force: [service_from, service_to) within the period. From
    ``use_ends`` (the service point disconnected) no more use is projected: the projection takes the use
    so far, the fixed charges still run to the period's end."""
    if not isinstance(usage_to_date, UsageInput):
        usage_to_date = UsageInput(usage_to_date, in_ccf=in_ccf)
    days_in_period = (period_end - period_start).days
    days_elapsed = max(1, min(days_elapsed, days_in_period))
    served_from = max(period_start, service_from or period_start)
    served_end = min(period_end, service_to or period_end)
    served_days = max(1, (served_end - served_from).days)
    elapsed_end = max(served_from + timedelta(days=1), min(period_start + timedelta(days=days_elapsed), served_end))
    to_date = rate(tariff, period_start, period_end, usage_to_date, zone=zone, attributes=attributes,
                   service_from=served_from, service_to=elapsed_end, whole_period_tiers=True, served_days=served_days)
    stretch = Share(served_days, max(1, (elapsed_end - served_from).days))
    if use_ends is not None and use_ends <= served_end:
        stretch = Share(1, 1)
    if usage_to_date.summary is not None:
        projected_usage = UsageInput(summary=usage_to_date.summary.scaled(stretch), in_ccf=usage_to_date.in_ccf)
    elif usage_to_date.intervals is None:
        projected_usage = UsageInput(stretch.of(usage_to_date.quantity or Decimal(0)), in_ccf=usage_to_date.in_ccf)
    else:
        so_far = _summary(usage_to_date, zone, period_start, elapsed_end, tariff.version_on(period_start))
        projected_usage = UsageInput(summary=so_far.scaled(stretch), in_ccf=usage_to_date.in_ccf)
    projected = rate(tariff, period_start, period_end, projected_usage, zone=zone, attributes=attributes,
                     service_from=served_from, service_to=served_end)
    return Estimate(to_date, projected, days_elapsed, days_in_period)
