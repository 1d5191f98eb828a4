"""Billing cycles and their periods as the scheduler sees them, and the scheduler's lock."""
from __future__ import annotations

from datetime import date

import psycopg

_SCHEDULER_LOCK = 7_431_003


def add_cycle(conn: psycopg.Connection, code: str, zone: str, start_day: int, close_after_days: int) -> None:
    """A cycle whose periods start on ``start_day`` of the month; an existing code is kept as it is."""
    conn.execute("insert into billing_cycles (code, zone, period_start_day, close_after_days) "
                 "values (%s, %s, %s, %s) on conflict (code) do nothing", (code, zone, start_day, close_after_days))


def cycles(conn: psycopg.Connection) -> list[tuple[int, int]]:
    """(id, period start day) of every cycle."""
    return conn.execute("select id, period_start_day from billing_cycles").fetchall()


def has_period(conn: psycopg.Connection, cycle_id: int, start: date) -> bool:
    return conn.execute("select 1 from billing_periods where billing_cycle_id = %s and period_start = %s",
                        (cycle_id, start)).fetchone() is not None


def due_periods(conn: psycopg.Connection, today: date) -> list[tuple]:
    """(period id, cycle code, start, end) of the open periods of cycles with accounts whose close is due."""
    return conn.execute(
        "select p.id, c.code, p.period_start, p.period_end from billing_periods p "
        "join billing_cycles c on c.id = p.billing_cycle_id "
        "where p.closed_at is null and p.period_end + c.close_after_days <= %s "
        "and exists (select 1 from accounts a where a.billing_cycle_id = c.id) "
        "order by p.period_end, c.code", (today,)).fetchall()


def try_lock_scheduler(conn: psycopg.Connection) -> bool:
    """Take the cycle scheduler's lock (session level): one scheduler runs at a time."""
    return conn.execute("select pg_try_advisory_lock(%s)", (_SCHEDULER_LOCK,)).fetchone()[0]


def unlock_scheduler(conn: psycopg.Connection) -> None:
    conn.execute("select pg_advisory_unlock(%s)", (_SCHEDULER_LOCK,))
