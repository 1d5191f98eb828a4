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

from storage.notices import create_notice, high_usage_watchers, leaks_to_tell, notice_sent
from billing.estimate import account_estimate
from rating.money import format_minor

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
        subject = f"High usage: your bill for {estimate['period_start']} to {estimate['period_end']} may pass " \
                  f"{format_minor(threshold, currency)} {currency}"
        if notice_sent(conn, account_id, HIGH_USAGE, subject):
            continue
        create_notice(conn, account_id, HIGH_USAGE, subject,
                      f"Your projected bill is {format_minor(estimate['projected_minor'], currency)} {currency} "
                      f"(so far {format_minor(estimate['bill_to_date_minor'], currency)} {currency}, day "
                      f"{estimate['days_elapsed']} of {estimate['days_in_period']}).")
        report.high_usage += 1
    for account_id, meter_no, block_start, zone in leaks_to_tell(conn):
        day = block_start.astimezone(ZoneInfo(zone)).date()
        subject = f"Possible water leak at meter {meter_no} on {day:%Y-%m-%d}"
        if notice_sent(conn, account_id, LEAK, subject):
            continue
        create_notice(conn, account_id, LEAK, subject,
                      f"Water flowed through meter {meter_no} all day on {day:%Y-%m-%d} without a stop. "
                      "Check for running toilets, dripping taps or a leaking pipe.")
        report.leaks += 1
    return report
