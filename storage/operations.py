"""The figures ``m2c status`` shows from the database."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg


@dataclass(frozen=True)
class DatabaseHealth:
    open_exceptions: list[tuple[str, int]]  # (rule, open exceptions flagged by it), most first
    latest_bill_run: tuple | None  # (id, cycle, period start, status, started, finished, billed, skipped)
    reads_last_5_minutes: int


def database_health(conn: psycopg.Connection) -> DatabaseHealth:
    exceptions = conn.execute("select rule, count(*) from vee_exceptions, unnest(rules) rule "
                              "where status = 'open' group by 1 order by 2 desc").fetchall()
    run = conn.execute("select r.id, c.code, p.period_start, r.status, r.started_at, r.finished_at, "
                       "r.accounts_billed, r.accounts_skipped from bill_runs r "
                       "join billing_periods p on p.id = r.billing_period_id "
                       "join billing_cycles c on c.id = p.billing_cycle_id "
                       "order by r.id desc limit 1").fetchone()
    recent = conn.execute("select coalesce(sum(read_count), 0) from interval_blocks "
                          "where updated_at > now() - interval '5 minutes'").fetchone()[0]
    return DatabaseHealth(exceptions, run, int(recent))
