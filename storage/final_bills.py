"""What final bills need: stopped agreements without one, the period their service ended in, and the
days their earlier bills took."""
from __future__ import annotations

from datetime import date

import psycopg


def stopped_agreements(conn: psycopg.Connection) -> list[tuple]:
    """(agreement id, account id, account number, first day served, first day no longer served, the
    billing period its last day falls in, the end of the days earlier issued bills took, the cycle's
    days to wait for late reads) of every stopped agreement with no issued final bill."""
    return conn.execute(
        "select sa.id, a.id, a.account_no, sa.start_date, sa.end_date, p.id, "
        "  (select max(u.end_day) from bill_usage u join bills b on b.id = u.bill_id "
        "    where u.service_agreement_id = sa.id and b.status = 'issued'), c.close_after_days "
        "from service_agreements sa join accounts a on a.id = sa.account_id "
        "join billing_cycles c on c.id = a.billing_cycle_id "
        "left join billing_periods p on p.billing_cycle_id = a.billing_cycle_id "
        " and p.period_start < sa.end_date and p.period_end >= sa.end_date "
        "where sa.status = 'stopped' and not exists (select 1 from bills b where b.final_agreement_id = sa.id "
        " and b.status = 'issued') order by sa.end_date, sa.id").fetchall()


def agreement_meter_ids(conn: psycopg.Connection, agreement_id: int) -> list[int]:
    return [r[0] for r in conn.execute("select distinct meter_id from agreement_meters where service_agreement_id = %s",
                                       (agreement_id,))]


def activate_started(conn: psycopg.Connection, today: date) -> int:
    """Pending agreements whose first day has come are active; returns how many."""
    return conn.execute("update service_agreements set status = 'active' where status = 'pending' "
                        "and start_date <= %s", (today,)).rowcount


def mark_final_billed(conn: psycopg.Connection, agreement_id: int) -> None:
    conn.execute("update service_agreements set status = 'final_billed' where id = %s", (agreement_id,))


def start_final_run(conn: psycopg.Connection, billing_period_id: int, requested_by: str) -> int:
    """A bill run record for the final bills of one period (not a cycle's run: it holds no lock)."""
    return conn.execute("insert into bill_runs (billing_period_id, status, requested_by, kind) "
                        "values (%s, 'running', %s, 'final') returning id", (billing_period_id, requested_by)).fetchone()[0]


def finish_final_run(conn: psycopg.Connection, run_id: int, billed: int, total_minor: int) -> None:
    conn.execute("update bill_runs set status = 'finished', finished_at = now(), accounts_billed = %s, "
                 "total_minor = %s where id = %s", (billed, total_minor, run_id))


def bills_past(conn: psycopg.Connection, agreement_id: int, end: date) -> list[int]:
    """The issued bills that took days of the agreement from ``end`` on."""
    return [r[0] for r in conn.execute(
        "select distinct b.id from bill_usage u join bills b on b.id = u.bill_id where u.service_agreement_id = %s "
        "and b.status = 'issued' and u.end_day > %s order by 1", (agreement_id, end))]
