"""Running estimates: re-rate the cycle-to-date usage of the accounts a batch touched, into Redis."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import psycopg

from rating.running import estimate_bodies
from rating.errors import NeedsIntervals
from rating.usage import IntervalData, UsageSummary, summarize, summarize_hourly
from rating.units import unit_factor
from storage.cache import EstimateCache
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, hourly_for, intervals_for, open_periods_touched, usage_for


def hourly_summaries(conn: psycopg.Connection, usages: list[AgreementUsage],
                     tariffs: dict[str, PublishedTariff]) -> dict[int, UsageSummary]:
    """To-date summaries of the agreements whose tariff prices time of use or demand, from the day
    rows' hourly sums and peaks (one query and one NumPy pass per period and tariff)."""
    groups: dict = defaultdict(list)
    for usage in usages:
        published = tariffs.get(usage.tariff_code or "")
        if published is not None and published.tariff.needs_intervals:
            groups[(usage.period, usage.tariff_code)].append(usage)
    found: dict[int, UsageSummary] = {}
    for (period, code), members in groups.items():
        tariff = tariffs[code].tariff
        ids = [u.service_agreement_id for u in members]
        version = tariff.version_on(period.start)
        factors = [unit_factor(u.power_of_ten, u.unit, tariff.billing_unit)[0] for u in members]
        hourly = hourly_for(conn, ids, period.start, period.end)
        try:
            summaries = summarize_hourly(len(ids), hourly.row_agreement, hourly.day_ordinal, hourly.interval_s,
                                         hourly.totals, hourly.peaks, factors, version.calendar,
                                         version.demand_window_s)
        except NeedsIntervals:  # a demand window hourly sums cannot give: read the intervals
            stored = {i.service_agreement_id: i for i in intervals_for(conn, ids, period.start, period.end)}
            summaries = [summarize(IntervalData(stored[i].starts, stored[i].interval_s, stored[i].values), f,
                                   version.calendar, u.zone, version.demand_window_s)
                         if i in stored else None for i, f, u in zip(ids, factors, members)]
        found.update((i, s) for i, s in zip(ids, summaries) if s is not None)
    return found


def refresh_estimates(conn: psycopg.Connection, cache: EstimateCache, tariffs: dict[str, PublishedTariff],
                      touched: set[tuple[int, date]], as_of: datetime | None = None) -> int:
    """Re-rate the accounts behind ``touched`` (agreement, local day) pairs; returns accounts written."""
    targets = open_periods_touched(conn, touched)
    usages = usage_for(conn, targets)
    entries = estimate_bodies(usages, tariffs, as_of or datetime.now(timezone.utc),
                              hourly_summaries(conn, usages, tariffs))
    cache.write(entries)
    return len(targets)


def rebuild_estimates(conn: psycopg.Connection, cache: EstimateCache, tariffs: dict[str, PublishedTariff],
                      as_of: datetime | None = None) -> int:
    """Recompute every open period's estimate from PostgreSQL (after Redis was flushed, say)."""
    targets = [(r[0], r[1]) for r in conn.execute(
        "select a.id, p.id from accounts a join billing_periods p on p.billing_cycle_id = a.billing_cycle_id "
        "where p.closed_at is null order by 1, 2")]
    written = 0
    for chunk_start in range(0, len(targets), 2000):
        chunk = targets[chunk_start:chunk_start + 2000]
        usages = usage_for(conn, chunk)
        entries = estimate_bodies(usages, tariffs, as_of or datetime.now(timezone.utc),
                                  hourly_summaries(conn, usages, tariffs))
        cache.write(entries)
        written += len(chunk)
    cache.mark_warm()
    return written
