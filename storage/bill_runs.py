"""Bill runs as recorded jobs: ``bill_runs`` (one row a run: who asked, status, totals) and the
accounts a run looks at."""
from __future__ import annotations

from datetime import date

import psycopg

from storage.copy_text import NULL, copy_rows, escaper, int_array


def period_of_cycle(conn: psycopg.Connection, cycle_code: str, period_start: date | None = None) -> int | None:
    """The given period of a cycle, or its oldest period that is not closed."""
    if period_start is not None:
        row = conn.execute("select p.id from billing_periods p join billing_cycles c on c.id = p.billing_cycle_id "
                           "where c.code = %s and p.period_start = %s", (cycle_code, period_start)).fetchone()
    else:
        row = conn.execute("select p.id from billing_periods p join billing_cycles c on c.id = p.billing_cycle_id "
                           "where c.code = %s and p.closed_at is null order by p.period_start limit 1",
                           (cycle_code,)).fetchone()
    return None if row is None else row[0]


def cycle_of_period(conn: psycopg.Connection, billing_period_id: int) -> int | None:
    row = conn.execute("select billing_cycle_id from billing_periods where id = %s", (billing_period_id,)).fetchone()
    return None if row is None else row[0]


def start_run(conn: psycopg.Connection, billing_period_id: int, requested_by: str | None) -> int:
    """Record a new running bill run of the period; a run of it still marked running was killed (the
    caller holds the period's lock) and is marked interrupted."""
    conn.execute("update bill_runs set status = 'interrupted', finished_at = now() "
                 "where billing_period_id = %s and status = 'running' and kind = 'cycle'", (billing_period_id,))
    return conn.execute("insert into bill_runs (billing_period_id, status, requested_by) "
                        "values (%s, 'running', coalesce(%s, current_user)) returning id",
                        (billing_period_id, requested_by)).fetchone()[0]


def accounts_to_bill(conn: psycopg.Connection, billing_period_id: int, cycle_id: int,
                     only: list[int] | None) -> list[tuple[int, str, bool]]:
    """(account id, account number, billed already) of the cycle's accounts (or just ``only``), in order."""
    ids = None if only is None else int_array(only)
    return conn.execute(
        "select a.id, a.account_no, exists (select 1 from bills b where b.account_id = a.id "
        "and b.billing_period_id = %s and b.status = 'issued' and b.kind <> 'final') from accounts a "
        "where a.billing_cycle_id = %s and (%s::int8[] is null or a.id = any(%s::int8[])) order by a.id",
        (billing_period_id, cycle_id, ids, ids)).fetchall()


def finish_run(conn: psycopg.Connection, run_id: int, billing_period_id: int, billed: int, held: int, failed: int,
               total_minor: int, close_period: bool) -> None:
    """Record the run finished with its totals, and close the period when it is all billed."""
    with conn.transaction():
        if close_period:
            conn.execute("update billing_periods set closed_at = coalesce(closed_at, now()) where id = %s",
                         (billing_period_id,))
        conn.execute("update bill_runs set status = 'finished', finished_at = now(), accounts_billed = %s, "
                     "accounts_skipped = %s, accounts_failed = %s, total_minor = %s where id = %s",
                     (billed, held, failed, total_minor, run_id))


def fail_run(conn: psycopg.Connection, run_id: int, error: str) -> None:
    conn.execute("update bill_runs set status = 'failed', finished_at = now(), error = %s where id = %s",
                 (error[:2000], run_id))


_BILL_RUN_LOCK = 7_431_002


def try_lock_period(conn: psycopg.Connection, billing_period_id: int) -> bool:
    """Take the period's bill-run lock (session level) if no other session holds it."""
    return conn.execute("select pg_try_advisory_lock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id)).fetchone()[0]


def unlock_period(conn: psycopg.Connection, billing_period_id: int) -> None:
    conn.execute("select pg_advisory_unlock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id))


def record_outcomes(conn: psycopg.Connection, run_id: int, outcomes: list[tuple]) -> None:
    """(account id, status, reason, bill id, ...) rows into ``bill_run_accounts``."""
    if not outcomes:
        return
    escape = escaper()
    copy_rows(conn, "copy bill_run_accounts (bill_run_id, account_id, status, reason, bill_id) from stdin",
              data="".join([f"{run_id}\t{account_id}\t{status}\t{escape(reason)}\t{NULL if bill_id is None else bill_id}\n"
                            for account_id, status, reason, bill_id, *_ in outcomes]).encode())


_BLOCKING = (
    "from vee_exceptions e "
    "join agreement_meters am on am.meter_id = e.meter_id "
    " and am.installed_at < e.block_start + make_interval(secs => e.interval_s * array_length(e.values, 1)) "
    " and coalesce(am.removed_at, 'infinity') > e.block_start "
    "join service_agreements sa on sa.id = am.service_agreement_id join accounts a on a.id = sa.account_id "
    "join billing_periods p on p.id = %s "
    "where e.status = 'open' and e.severity = 'blocks_billing' and sa.account_id = any(%s::int8[]) "
    "  and e.block_start < (p.period_end::timestamp at time zone a.zone) "
    "  and e.block_start + make_interval(secs => e.interval_s * array_length(e.values, 1)) "
    "      > (p.period_start::timestamp at time zone a.zone) ")


def blocking_exceptions(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> dict[int, int]:
    """Open VEE exceptions that block billing, per account, whose reads fall in the period (local days)."""
    rows = conn.execute("select sa.account_id, count(*) " + _BLOCKING + "group by sa.account_id",
                        (billing_period_id, int_array(account_ids))).fetchall()
    return dict(rows)


def blocking_exception_ids(conn: psycopg.Connection, account_id: int, billing_period_id: int) -> list[int]:
    """The ids of the account's open exceptions that block its bill of the period."""
    return [r[0] for r in conn.execute("select distinct e.id " + _BLOCKING + "order by 1",
                                       (billing_period_id, int_array([account_id])))]
