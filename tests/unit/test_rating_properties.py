"""Properties of rating that must hold for any input (hypothesis)."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings, strategies as st

from rating.pricing import UsageInput, rate
from rating.tariff import parse_tariff
from rating.usage import IntervalData, summarize, summarize_many

ZONE = "America/New_York"
TOU = """
code = "P"
service = "electric"
currency = "USD"
billing_unit = "kWh"
[[versions]]
effective_from = "2026-01-01"
  [versions.tou]
  periods = ["off", "mid", "on"]
  default = "off"
  rules = [{ period = "on", days = "weekday", hours = [16, 21] }, { period = "mid", hours = [7, 23] }]
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "9.99"
  [[versions.charges]]
  kind = "tou_energy"
  code = "energy"
  prices = { off = "0.071", mid = "0.113", on = [{ up_to = "150", price = "0.2" }, { price = "0.31" }] }
  [[versions.charges]]
  kind = "tiered"
  code = "delivery"
  tiers = [{ up_to = "500", price = "0.04" }, { up_to = "1000", price = "0.05" }, { price = "0.065" }]
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "8.25"
"""
FLAT = """
code = "F"
service = "electric"
currency = "USD"
billing_unit = "kWh"
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "9.99"
  [[versions.charges]]
  kind = "tiered"
  code = "delivery"
  tiers = [{ up_to = "500", price = "0.04" }, { up_to = "1000", price = "0.05" }, { price = "0.065" }]
"""


def month_of_intervals(seed: int, start=date(2026, 3, 1), days=31) -> IntervalData:
    rng = np.random.default_rng(seed)
    first = int(datetime.combine(start, time(0), ZoneInfo(ZONE)).timestamp())
    last = int(datetime.combine(start + timedelta(days=days), time(0), ZoneInfo(ZONE)).timestamp())
    starts = np.arange(first, last, 900, dtype=np.int64)
    return IntervalData(starts, 900, rng.integers(0, 2500, len(starts)))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.lists(st.integers(1, 2975), min_size=1, max_size=6, unique=True))
def test_the_total_does_not_depend_on_how_intervals_are_batched(seed, cuts):
    tariff = parse_tariff(TOU)
    data = month_of_intervals(seed)
    whole = summarize(data, Decimal("0.001"), tariff.versions[0].calendar, ZONE)
    bounds = [0, *sorted(cuts), len(data.starts)]
    pieces = [IntervalData(data.starts[a:b], 900, data.imported[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    parts = summarize_many(pieces, Decimal("0.001"), tariff.versions[0].calendar, ZONE)
    assert sum((p.imported for p in parts), Decimal(0)) == whole.imported
    for period in whole.by_period:
        assert sum((p.by_period.get(period, Decimal(0)) for p in parts), Decimal(0)) == whole.by_period[period]
    assert max(p.max_demand for p in parts) == whole.max_demand
    # the same intervals delivered in another order and re-sorted rate to the same bill
    order = np.random.default_rng(seed).permutation(len(data.starts))
    shuffled = IntervalData(data.starts[order], 900, data.imported[order])
    resorted = np.argsort(shuffled.starts, kind="stable")
    again = IntervalData(shuffled.starts[resorted], 900, shuffled.imported[resorted])
    period = (date(2026, 3, 1), date(2026, 4, 1))
    assert rate(tariff, *period, UsageInput(intervals=again, factor=Decimal("0.001")), zone=ZONE) == \
        rate(tariff, *period, UsageInput(intervals=data, factor=Decimal("0.001")), zone=ZONE)


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=0, max_value=5000, places=3), st.integers(2, 30))
def test_splitting_a_period_where_the_rate_does_not_change_gives_the_whole(quantity, split_day):
    """A second, identical version taking effect mid-period splits the bill in two segments; their
    exact amounts add up to the unsplit bill (each line is still rounded on its own)."""
    flat = FLAT
    second = flat[flat.index("[[versions]]"):].replace('effective_from = "2026-01-01"',
                                                       f'effective_from = "2026-03-{split_day:02d}"')
    whole = rate(parse_tariff(flat), date(2026, 3, 1), date(2026, 4, 1), UsageInput(quantity), zone=ZONE)
    split = rate(parse_tariff(flat + second), date(2026, 3, 1), date(2026, 4, 1), UsageInput(quantity), zone=ZONE)
    assert len(split.lines) > len(whole.lines)
    exact_whole = sum((line.amount for line in whole.lines), Decimal(0))
    exact_split = sum((line.amount for line in split.lines), Decimal(0))
    assert abs(exact_whole - exact_split) < Decimal("1e-18")
    assert abs(whole.total_minor - split.total_minor) <= len(split.lines)


@given(st.sampled_from([Decimal(500), Decimal(1000)]), st.integers(1, 6))
def test_tier_boundaries_are_exact(boundary, digits):
    tariff = parse_tariff(TOU.replace('rules = [{ period = "on", days = "weekday", hours = [16, 21] }, '
                                      '{ period = "mid", hours = [7, 23] }]', "rules = []"))
    period = (date(2026, 3, 1), date(2026, 4, 1))
    quantities = {}
    flat_calendar_data = month_of_intervals(1)
    for quantity in (boundary, boundary + Decimal(1).scaleb(-digits)):
        total = int(quantity * 1000 * 10**digits)  # in 10^-digits Wh, one interval
        data = IntervalData(flat_calendar_data.starts[:1], 900, np.array([total], np.int64))
        quote = rate(tariff, *period, UsageInput(intervals=data, factor=Decimal(1).scaleb(-3 - digits)), zone=ZONE)
        quantities[quantity] = {l.code: l.quantity for l in quote.lines if l.code.startswith("delivery")}
    at, above = quantities[boundary], quantities[boundary + Decimal(1).scaleb(-digits)]
    last_tier = "delivery.tier1" if boundary == 500 else "delivery.tier2"
    next_tier = "delivery.tier2" if boundary == 500 else "delivery.tier3"
    assert next_tier not in at and sum(at.values()) == boundary
    assert above[next_tier] == Decimal(1).scaleb(-digits) and above[last_tier] == at[last_tier]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([None, 900]))
def test_hourly_day_rows_summarize_exactly_like_the_intervals(seed, window_s):
    """Running estimates price time of use from per-hour sums and peaks of each day row; across a
    fall-back day that must give what every interval gives."""
    from meterdata.day_rows import hourly_buckets, local_days, wall_clock_hours
    from rating.usage import summarize_hourly

    tariff = parse_tariff(TOU)
    calendar = tariff.versions[0].calendar
    data = month_of_intervals(seed, start=date(2026, 10, 20), days=20)  # holds 2026-11-01
    factor = Decimal("0.001")
    expected = summarize(data, factor, calendar, ZONE, window_s)
    days, day_starts = local_days(ZONE, data.starts)
    rows_total, rows_peak, ordinals = [], [], []
    for day in np.unique(days):
        mask = days == day
        hours = wall_clock_hours(ZONE, int(day_starts[mask][0]), 900, int(mask.sum()))
        total, peak = hourly_buckets(data.imported[mask], np.ones(int(mask.sum()), bool), hours)
        rows_total.append(total)
        rows_peak.append(peak)
        ordinals.append(day)
    count = len(ordinals)
    got = summarize_hourly(1, np.zeros(count, np.int64), np.array(ordinals), np.full(count, 900),
                           np.array(rows_total), np.array(rows_peak), [factor], calendar, window_s)[0]
    assert (got.imported, got.by_period, got.demand_by_period, got.max_demand) == \
        (expected.imported, expected.by_period, expected.demand_by_period, expected.max_demand)


def test_hourly_day_rows_refuse_longer_demand_windows():
    import pytest

    from rating.errors import NeedsIntervals
    from rating.usage import summarize_hourly

    with pytest.raises(NeedsIntervals):
        summarize_hourly(1, np.zeros(1, np.int64), np.array([20_000]), np.array([900]), np.zeros((1, 24), np.int64),
                         np.zeros((1, 24), np.int64), [Decimal(1)], None, 3600)
