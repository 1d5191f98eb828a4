"""What the staff workspace reads: account search and the staff view of an account, bill runs with
their progress, the payment-exception queue and the audit trail."""
from __future__ import annotations

import psycopg


def search_accounts(conn: psycopg.Connection, text: str, limit: int, offset: int = 0) -> tuple[int, list[tuple]]:
    """(how many match, the page of (account number, customer name, e-mail, addresses served)) of accounts
    whose number, name, e-mail, meter number or premise address contains ``text`` (taken literally)."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matching = (
        "select a.id from accounts a where a.account_no ilike %(p)s or a.customer_name ilike %(p)s "
        "or a.email ilike %(p)s "
        "union select sa.account_id from service_agreements sa join premises p on p.id = sa.premise_id "
        "where p.address ilike %(p)s "
        "union select sa.account_id from service_agreements sa join agreement_meters am on "
        "am.service_agreement_id = sa.id join meters m on m.id = am.meter_id where m.meter_no ilike %(p)s")
    values = {"p": pattern, "limit": limit, "offset": offset}
    total = conn.execute(f"select count(*) from ({matching}) t", values).fetchone()[0]
    rows = conn.execute(
        f"select a.account_no, a.customer_name, a.email, coalesce((select string_agg(distinct p.address, '; ') "
        f"from service_agreements sa join premises p on p.id = sa.premise_id where sa.account_id = a.id "
        f"and sa.end_date is null), '') from accounts a where a.id in ({matching}) order by a.account_no "
        f"limit %(limit)s offset %(offset)s", values).fetchall()
    return total, rows


def account_row(conn: psycopg.Connection, account_no: str) -> tuple | None:
    """(id, customer name, e-mail, zone, currency, delivery channel, billing entity)."""
    return conn.execute("select id, customer_name, email, zone, currency, delivery_channel, billing_entity from "
                        "accounts where account_no = %s", (account_no,)).fetchone()


def account_meters(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(service, meter number, unit, power of ten, interval s, last day with usage) per meter."""
    return conn.execute(
        "select sa.service, m.meter_no, m.unit, m.power_of_ten, m.interval_s, "
        "(select max(local_day) from agreement_usage_daily d where d.service_agreement_id = sa.id) "
        "from service_agreements sa join agreement_meters am on am.service_agreement_id = sa.id "
        "join meters m on m.id = am.meter_id where sa.account_id = %s "
        "order by m.meter_no", (account_id,)).fetchall()


def recent_bills(conn: psycopg.Connection, account_id: int, limit: int = 24) -> list[tuple]:
    return conn.execute("select id, period_start, total_minor, total_due_minor, status, due_date from bills "
                        "where account_id = %s order by id desc limit %s", (account_id, limit)).fetchall()


def recent_ledger(conn: psycopg.Connection, account_id: int, limit: int = 100) -> list[tuple]:
    return conn.execute("select transaction_id, ledger_account, amount_minor, entry_type, bill_id, payment_id, "
                        "posted_at, memo from ledger_entries where account_id = %s order by id desc limit %s",
                        (account_id, limit)).fetchall()


def recent_notices(conn: psycopg.Connection, account_id: int, limit: int = 50) -> list[tuple]:
    return conn.execute("select id, kind, subject, created_at, delivered_at from notices where account_id = %s "
                        "order by id desc limit %s", (account_id, limit)).fetchall()


def open_exception_count(conn: psycopg.Connection, account_id: int) -> int:
    return conn.execute(
        "select count(*) from vee_exceptions e join service_agreements sa "
        "on sa.id = agreement_at(e.meter_id, e.block_start) where sa.account_id = %s and e.status = 'open'", (account_id,)).fetchone()[0]


_RUNS = ("select r.id, c.code, p.period_start, r.status, r.started_at, r.finished_at, r.accounts_billed, "
         "r.accounts_skipped, r.accounts_failed, r.total_minor, r.error, p.billing_cycle_id from bill_runs r "
         "join billing_periods p on p.id = r.billing_period_id join billing_cycles c on c.id = p.billing_cycle_id ")


def bill_runs(conn: psycopg.Connection, limit: int, offset: int = 0) -> tuple[int, list[tuple]]:
    """(how many runs there are, the page of (id, cycle code, period start, status, started, finished,
    billed, held, failed, total minor, error, cycle id)), newest first."""
    total = conn.execute("select count(*) from bill_runs").fetchone()[0]
    return total, conn.execute(_RUNS + "order by r.id desc limit %s offset %s", (limit, offset)).fetchall()


def bill_run(conn: psycopg.Connection, run_id: int) -> tuple | None:
    return conn.execute(_RUNS + "where r.id = %s", (run_id,)).fetchone()


def bill_run_period(conn: psycopg.Connection, run_id: int) -> int:
    return conn.execute("select billing_period_id from bill_runs where id = %s", (run_id,)).fetchone()[0]


def bill_run_progress(conn: psycopg.Connection, run_id: int, cycle_id: int) -> tuple[dict, int, list[tuple]]:
    """(accounts by outcome so far, accounts in the cycle, (account number, reason) of the held and failed)."""
    outcomes = dict(conn.execute("select status, count(*) from bill_run_accounts where bill_run_id = %s "
                                 "group by status", (run_id,)).fetchall())
    accounts = conn.execute("select count(*) from accounts where billing_cycle_id = %s", (cycle_id,)).fetchone()[0]
    held = conn.execute("select a.account_no, b.reason from bill_run_accounts b join accounts a on a.id = b.account_id "
                        "where b.bill_run_id = %s and b.status in ('held', 'failed') order by a.account_no limit 500",
                        (run_id,)).fetchall()
    return outcomes, accounts, held


def payment_exceptions(conn: psycopg.Connection, limit: int, offset: int = 0) -> tuple[int, list[tuple]]:
    """(how many payments match no account, the page of (id, channel, reference, account ref, invoice ref,
    amount minor, currency, received on, reason)), oldest first."""
    total = conn.execute("select count(*) from payments where status = 'unmatched'").fetchone()[0]
    return total, conn.execute(
        "select id, channel, reference, account_ref, invoice_ref, amount_minor, currency, received_on, "
        "exception_reason from payments where status = 'unmatched' order by id limit %s offset %s",
        (limit, offset)).fetchall()


def audit_entries(conn: psycopg.Connection, limit: int) -> list[tuple]:
    return conn.execute("select id, username, action, target, details, at from portal_audit order by id desc "
                        "limit %s", (limit,)).fetchall()
