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


_RECEIVABLES = """
select
  (select coalesce(json_object_agg(channel, n), '{}') from (select channel, count(*) n from payments group by 1) p),
  (select coalesce(sum(amount_minor), 0) from payments),
  (select count(*) from payments where status = 'returned'),
  (select count(*) from payments where status = 'unmatched'),
  (select coalesce(json_object_agg(k, n), '{}') from (select channel || '/' || status k, count(*) n from deliveries
     group by 1) d),
  (select count(*) from bills where delivered_at is null and status = 'issued'),
  (select coalesce(json_object_agg(step, n), '{}') from (select step, count(*) n from collection_steps group by 1) c),
  (select coalesce(sum(amount_minor), 0) from ledger_entries where ledger_account = 'receivable'),
  (select count(*) from payment_arrangements where status = 'active')
"""


def receivables_figures(conn) -> tuple:
    """(payments by channel, received minor, returned, unmatched, deliveries by channel/status, undelivered
    bills, collection steps by step, receivable balance minor, active arrangements)."""
    return conn.execute(_RECEIVABLES).fetchone()
