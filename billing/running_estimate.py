"""An account's running estimate straight from PostgreSQL, for readers that find none in Redis (the
cache is cold after a restart): the same figures the streams worker writes there."""
from __future__ import annotations

from datetime import datetime

import psycopg

from billing.pricing_inputs import interval_inputs
from rating.running import estimate_bodies
from rating.units import unit_factor
from rating.usage import IntervalData, summarize
from storage.usage import latest_open_period, usage_for


def account_estimate(conn: psycopg.Connection, account_id: int, tariffs: dict, as_of: datetime) -> dict | None:
    """The estimate of the account's latest open period, or None when it has none."""
    period_id = latest_open_period(conn, account_id)
    if period_id is None:
        return None
    usages = usage_for(conn, [(account_id, period_id)])
    if not usages:
        return None
    summaries, intervals = interval_inputs(conn, usages, tariffs)
    for usage in usages:
        stored = intervals.get(usage.service_agreement_id)
        if stored is None or usage.service_agreement_id in summaries:
            continue
        tariff = tariffs[usage.tariff_code].tariff
        version = tariff.version_on(usage.period.start)
        factor = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)[0]
        summaries[usage.service_agreement_id] = summarize(
            IntervalData(stored.starts, stored.interval_s, stored.values), factor, version.calendar, usage.zone,
            version.demand_window_s)
    (_, _, body), = estimate_bodies(usages, tariffs, as_of, summaries)
    return body
