"""Billing cycles on a schedule: each cycle's periods run monthly from its start day (cycle 1 starts
on the 1st, cycle 20 on the 20th, ...), and a period is due for its bill run ``close_after_days``
after it ends, leaving late reads time to arrive."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import psycopg

from billing.errors import BadCycleCount
from storage import billing_cycles
from storage.bulk_load import ensure_period


def add_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, day.day)


def period_containing(start_day: int, day: date) -> tuple[date, date]:
    """The monthly period [start, end) of a cycle starting on ``start_day`` (1..28) that holds ``day``."""
    start = date(day.year, day.month, start_day)
    if day < start:
        start = date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, start_day)
    return start, add_month(start)


def create_cycles(conn: psycopg.Connection, count: int, zone: str, close_after_days: int = 1,
                  prefix: str = "BC") -> list[str]:
    """``count`` cycles (at most 28) spread over the month's first days; existing codes are kept."""
    if not 1 <= count <= 28:
        raise BadCycleCount("between 1 and 28 cycles: one per start day")
    codes = [f"{prefix}{number:02d}" for number in range(1, count + 1)]
    for number, code in enumerate(codes, start=1):
        billing_cycles.add_cycle(conn, code, zone, number, close_after_days)
    return codes


def ensure_periods(conn: psycopg.Connection, today: date) -> int:
    """Make sure every cycle has its current period and the one before; returns how many were added."""
    added = 0
    for cycle_id, start_day in billing_cycles.cycles(conn):
        current = period_containing(start_day, today)
        previous = period_containing(start_day, current[0] - timedelta(days=1))
        for start, end in (previous, current):
            if not billing_cycles.has_period(conn, cycle_id, start):
                ensure_period(conn, cycle_id, start, end)
                added += 1
    return added


@dataclass(frozen=True)
class DuePeriod:
    billing_period_id: int
    cycle_code: str
    period_start: date
    period_end: date


def due_periods(conn: psycopg.Connection, today: date) -> list[DuePeriod]:
    """Open periods whose bill run is due by ``today``, oldest first."""
    return [DuePeriod(*row) for row in billing_cycles.due_periods(conn, today)]
