"""Running estimates: the one function that prices an account's open period to date, used by the
streams worker (for the accounts a batch touched, into Redis) and by readers that find the cache cold
(the portal, the high-bill alerts); both get the same body from the same inputs."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone

import psycopg

from billing.pricing_inputs import hourly_summaries, intervals_needed
from rating.running import estimate_bodies
from rating.units import unit_factor
from rating.usage import IntervalData, UsageSummary, summarize
from storage.cache import EstimateCache
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, latest_open_period, open_account_periods, open_periods_touched, usage_for

REBUILD_CHUNK = 2000


def estimate_summaries(conn: psycopg.Connection, usages: list[AgreementUsage],
                       tariffs: dict[str, PublishedTariff]) -> dict[int, UsageSummary]:
    """Usage summaries of the agreements whose tariff prices time of use or demand: from the day rows'
    hourly sums where those are exact, from the stored intervals otherwise (one read per period)."""
    summaries, rest = hourly_summaries(conn, usages, tariffs)
    by_period: dict = defaultdict(list)
    for usage in rest:
        by_period[usage.period].append(usage)
    for period, members in by_period.items():
        stored = intervals_needed(conn, members, tariffs)
        for usage in members:
            intervals = stored.get(usage.service_agreement_id)
            if intervals is None:
                continue
            tariff = tariffs[usage.tariff_code].tariff
            version = tariff.version_on(period.start)
            factor = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)[0]
            summaries[usage.service_agreement_id] = summarize(
                IntervalData(intervals.starts, intervals.interval_s, intervals.values), factor, version.calendar,
                usage.zone, version.demand_window_s)
    return summaries


def estimates_for(conn: psycopg.Connection, targets: list[tuple[int, int]], tariffs: dict[str, PublishedTariff],
                  as_of: datetime) -> list[tuple[int, int, dict]]:
    """(account id, period id, estimate body) of each (account, open period) target that has usage."""
    usages = usage_for(conn, targets)
    return estimate_bodies(usages, tariffs, as_of, estimate_summaries(conn, usages, tariffs))


def account_estimate(conn: psycopg.Connection, account_id: int, tariffs: dict[str, PublishedTariff],
                     as_of: datetime) -> dict | None:
    """The estimate of the account's latest open period straight from PostgreSQL, or None when it has
    none: what a reader computes when the cache is cold."""
    period_id = latest_open_period(conn, account_id)
    if period_id is None:
        return None
    entries = estimates_for(conn, [(account_id, period_id)], tariffs, as_of)
    return entries[0][2] if entries else None


def refresh_estimates(conn: psycopg.Connection, cache: EstimateCache, tariffs: dict[str, PublishedTariff],
                      touched: set[tuple[int, date]], as_of: datetime | None = None) -> int:
    """Re-rate the accounts behind ``touched`` (agreement, local day) pairs; returns accounts written."""
    targets = open_periods_touched(conn, touched)
    cache.write(estimates_for(conn, targets, tariffs, as_of or datetime.now(timezone.utc)))
    return len(targets)


def rebuild_estimates(conn: psycopg.Connection, cache: EstimateCache, tariffs: dict[str, PublishedTariff],
                      as_of: datetime | None = None) -> int:
    """Recompute every open period's estimate from PostgreSQL (after Redis was flushed, say)."""
    targets = open_account_periods(conn)
    moment = as_of or datetime.now(timezone.utc)
    for first in range(0, len(targets), REBUILD_CHUNK):
        chunk = targets[first:first + REBUILD_CHUNK]
        entries = estimates_for(conn, chunk, tariffs, moment)
        cache.write(entries)
        # an account whose service ended (its days go to a final bill) has no running estimate
        cache.forget(sorted({t[0] for t in chunk} - {e[0] for e in entries}))
    cache.mark_warm()
    return len(targets)


def refresh_accounts(conn: psycopg.Connection, cache: EstimateCache, tariffs: dict[str, PublishedTariff],
                     account_ids: list[int], as_of: datetime | None = None) -> int:
    """Re-rate these accounts' open periods now (a service point disconnected or reconnected changes the
    projection with no read to say so); returns accounts written."""
    targets = [(a, p) for a in account_ids if (p := latest_open_period(conn, a)) is not None]
    cache.write(estimates_for(conn, targets, tariffs, as_of or datetime.now(timezone.utc)))
    return len(targets)
