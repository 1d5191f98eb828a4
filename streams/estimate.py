"""Running estimates: re-rate the cycle-to-date usage of the accounts a batch touched, into Redis."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from decimal import Decimal

import psycopg

from rating.pricing import UsageInput, estimate
from rating.errors import NeedsIntervals, RatingError
from rating.usage import IntervalData, UsageSummary, summarize, summarize_hourly
from rating.units import unit_factor
from storage.cache import EstimateCache, account_key
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, hourly_for, intervals_for, open_periods_touched, usage_for


def _lines(quote) -> list[dict]:
    return [{"code": line.code, "description": line.description, "quantity": str(line.quantity),
             "unit": line.unit, "price": None if line.price is None else str(line.price),
             "amount_minor": line.amount_minor, "tariff_version": line.tariff_version} for line in quote.lines]


def estimate_bodies(usages: list[AgreementUsage], tariffs: dict[str, PublishedTariff], as_of: datetime,
                    summaries: dict | None = None) -> list[tuple[str, int, dict]]:
    """Cache entries (key, version, body), one per account in ``usages``: the account's estimate is the
    sum over its agreements, each listed with its own bill-to-date lines."""
    summaries = summaries or {}
    by_account: dict[tuple[int, int], list[AgreementUsage]] = defaultdict(list)
    for usage in usages:
        by_account[(usage.account_id, usage.period.id)].append(usage)
    entries = []
    for (account_id, _), agreements in by_account.items():
        period = agreements[0].period
        last_days = [u.last_day for u in agreements if u.last_day is not None]
        days_elapsed = ((max(last_days) - period.start).days + 1) if last_days else 0
        version = sum(u.read_count for u in agreements)
        account_body = {"account_id": account_id, "period_id": period.id, "period_start": period.start.isoformat(),
                        "period_end": period.end.isoformat(), "currency": agreements[0].currency,
                        "days_elapsed": days_elapsed, "days_in_period": period.days,
                        "bill_to_date_minor": 0, "projected_minor": 0, "services": [], "as_of": as_of.isoformat()}
        for usage in agreements:
            published = tariffs.get(usage.tariff_code or "")
            if published is None:
                account_body["services"].append({"service_agreement_id": usage.service_agreement_id,
                                                 "service": usage.service, "error": "no_tariff"})
                continue
            tariff = published.tariff
            try:
                factor, in_ccf = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)
                quantity = Decimal(usage.quantity) * factor
                summary = summaries.get(usage.service_agreement_id)
                so_far = UsageInput(quantity, in_ccf=in_ccf, summary=summary)
                result = estimate(tariff, period.start, period.end, so_far, days_elapsed, zone=usage.zone,
                                  attributes={k: str(v) for k, v in usage.attributes.items()})
            except RatingError as error:
                account_body["services"].append({"service_agreement_id": usage.service_agreement_id,
                                                 "service": usage.service, "error": error.code})
                continue
            account_body["services"].append({
                "service_agreement_id": usage.service_agreement_id, "service": usage.service,
                "quantity": str(quantity), "unit": "CCF" if in_ccf else tariff.billing_unit, "reads": usage.read_count,
                "bill_to_date_minor": result.bill_to_date.total_minor,
                "projected_minor": result.projected.total_minor,
                "bill_to_date_lines": _lines(result.bill_to_date)})
            account_body["bill_to_date_minor"] += result.bill_to_date.total_minor
            account_body["projected_minor"] += result.projected.total_minor
        entries.append((account_key(account_id), version, account_body))
    return entries


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
        cache.write(estimate_bodies(usages, tariffs, as_of or datetime.now(timezone.utc),
                                    hourly_summaries(conn, usages, tariffs)))
        written += len(chunk)
    cache.mark_warm()
    return written
