"""Billing cycles as staff list them."""
from __future__ import annotations

import psycopg


def cycle_summaries(conn: psycopg.Connection) -> list[tuple]:
    """(code, period start day, close after days, accounts, open periods as 'start..end' text) per cycle."""
    return conn.execute(
        "select c.code, c.period_start_day, c.close_after_days, "
        "(select count(*) from accounts a where a.billing_cycle_id = c.id), "
        "(select string_agg(p.period_start || '..' || p.period_end, ' ' order by p.period_start) "
        " from billing_periods p where p.billing_cycle_id = c.id and p.closed_at is null) "
        "from billing_cycles c order by c.code").fetchall()
