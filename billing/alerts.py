"""Customer alerts the customer switched on in the portal (``portal_alerts``):

- high usage: the open period's projected bill has passed the customer's amount (once a period);
- possible water leak: VEE saw water flowing through a whole day at the customer's meter
  (``continuous_flow``; once per meter and day).

Each alert is a notice, delivered by the account's channel with the other notices.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

import psycopg

from cis import notices
from storage.notices import high_usage_watchers, leaks_to_tell
from billing.estimate import account_estimate

HIGH_USAGE, LEAK = "high_usage_alert", "leak_alert"


@dataclass
class AlertReport:
    high_usage: int = 0
    leaks: int = 0


def run_alerts(conn: psycopg.Connection, tariffs: Callable[[], dict], now: datetime) -> AlertReport:
    """``tariffs`` is called only when some customer asked for high-usage alerts."""
    report = AlertReport()
    wanted = high_usage_watchers(conn)
    published = tariffs() if wanted else {}
    for account_id, currency, threshold in wanted:
        estimate = account_estimate(conn, account_id, published, now)
        if estimate is None or estimate["projected_minor"] < threshold:
            continue
        values = {"period_start": estimate["period_start"], "period_end": estimate["period_end"],
                  "threshold_minor": threshold, "projected_minor": estimate["projected_minor"],
                  "so_far_minor": estimate["bill_to_date_minor"], "days_elapsed": estimate["days_elapsed"],
                  "days_in_period": estimate["days_in_period"]}
        if notices.send(conn, account_id, HIGH_USAGE, values, once=True) is not None:
            report.high_usage += 1
    for account_id, meter_no, block_start, zone in leaks_to_tell(conn):
        day = block_start.astimezone(ZoneInfo(zone)).date()
        if notices.send(conn, account_id, LEAK, {"meter_no": meter_no, "day": day}, once=True) is not None:
            report.leaks += 1
    return report
