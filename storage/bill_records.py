"""Issued bills as records: what a bill document is printed from, cancelling a bill, and the
corrections raised when a billed period's usage changed after billing."""
from __future__ import annotations

from datetime import date, datetime

import psycopg

BILL_COLUMNS = ("id", "account_id", "period_start", "period_end", "zone", "currency", "total_minor", "issued_at",
                "status", "kind", "rebill_of", "cancelled_at", "cancel_reason", "estimated", "billing_entity",
                "previous_balance_minor", "payments_minor", "adjustments_minor", "fees_minor", "budget_minor",
                "total_due_minor", "due_date", "delivered_at")


def bill(conn: psycopg.Connection, bill_id: int) -> dict | None:
    """The bill's row by column name (``BILL_COLUMNS``)."""
    row = conn.execute(f"select {', '.join(BILL_COLUMNS)} from bills where id = %s", (bill_id,)).fetchone()
    return None if row is None else dict(zip(BILL_COLUMNS, row))


def bill_lines(conn: psycopg.Connection, bill_id: int) -> list[tuple]:
    """(agreement, service, description, quantity, unit, price, amount minor, tariff version), in order."""
    return conn.execute(
        "select service_agreement_id, service, description, quantity, unit, price, amount_minor, tariff_version "
        "from bill_lines where bill_id = %s order by line_no", (bill_id,)).fetchall()


def bill_usage(conn: psycopg.Connection, bill_id: int) -> dict[int, tuple]:
    """agreement -> (quantity, unit, power of ten, reads, estimated reads) the bill priced."""
    return {r[0]: r[1:] for r in conn.execute(
        "select service_agreement_id, quantity, unit, power_of_ten, read_count, estimated_count from bill_usage "
        "where bill_id = %s", (bill_id,)).fetchall()}


def addressee(conn: psycopg.Connection, account_id: int) -> tuple[str, str, str, str, str | None, str]:
    """(account number, customer name, mailing address or the first premise's, billing entity, e-mail,
    currency)."""
    return conn.execute(
        "select a.account_no, a.customer_name, coalesce(a.mailing_address, (select p.address from service_agreements sa "
        " join premises p on p.id = sa.premise_id where sa.account_id = a.id order by sa.id limit 1), ''), "
        "a.billing_entity, a.email, a.currency from accounts a where a.id = %s", (account_id,)).fetchone()


def notice(conn: psycopg.Connection, notice_id: int) -> tuple:
    """(account id, kind, subject, body, created at, bill id)."""
    return conn.execute("select account_id, kind, subject, body, created_at, bill_id from notices where id = %s",
                        (notice_id,)).fetchone()


def account_and_status(conn: psycopg.Connection, bill_id: int) -> tuple[int, str] | None:
    return conn.execute("select account_id, status from bills where id = %s", (bill_id,)).fetchone()


def lock_status(conn: psycopg.Connection, bill_id: int) -> str:
    return conn.execute("select status from bills where id = %s for update", (bill_id,)).fetchone()[0]


def bill_postings(conn: psycopg.Connection, bill_id: int) -> list[tuple[str, int]]:
    """(ledger account, amount) of the bill's own postings (charges and levelized billing), in order."""
    return conn.execute(
        "select ledger_account, amount_minor from ledger_entries where bill_id = %s "
        "and entry_type in ('bill', 'budget_deferral', 'budget_true_up') order by id", (bill_id,)).fetchall()


def mark_cancelled(conn: psycopg.Connection, bill_id: int, at: datetime, actor: str, reason: str) -> None:
    conn.execute("update bills set status = 'cancelled', cancelled_at = %s, cancelled_by = %s, cancel_reason = %s "
                 "where id = %s", (at, actor, reason, bill_id))
    conn.execute("update bill_corrections set status = 'rebilled' where bill_id = %s", (bill_id,))


def period_and_account(conn: psycopg.Connection, bill_id: int) -> tuple[int, int] | None:
    return conn.execute("select billing_period_id, account_id from bills where id = %s", (bill_id,)).fetchone()


def raise_corrections(conn: psycopg.Connection, since: date) -> int:
    """One open correction per issued bill (of periods ending on or after ``since``) whose usage changed
    after billing, with the quantities billed and now; returns how many were raised."""
    return conn.execute(
        "insert into bill_corrections (bill_id, account_id, billed_quantity, current_quantity, billed_reads, "
        "current_reads) "
        "select b.id, b.account_id, billed.quantity, coalesce(now_.quantity, 0), billed.reads, coalesce(now_.reads, 0) "
        "from bills b "
        "join lateral (select sum(quantity) as quantity, sum(read_count) as reads from bill_usage u "
        "              where u.bill_id = b.id) billed on true "
        "left join lateral (select sum(d.quantity) as quantity, sum(d.read_count) as reads from bill_usage u "
        "                   join agreement_usage_daily d on d.service_agreement_id = u.service_agreement_id and d.channel = 1 "
        "                    and d.local_day >= u.first_day and d.local_day < u.end_day "
        "                   where u.bill_id = b.id) now_ on true "
        "where b.status = 'issued' and b.period_end >= %s "
        "  and (billed.quantity, billed.reads) is distinct from (now_.quantity, now_.reads) "
        "on conflict (bill_id) do nothing", (since,)).rowcount


def estimated_bills_to_true_up(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> list[tuple]:
    """(bill id, account id, period id, start, end, currency) of the accounts' issued estimated bills of other
    periods not trued up yet, oldest first."""
    return conn.execute(
        "select b.id, b.account_id, b.billing_period_id, b.period_start, b.period_end, b.currency from bills b "
        "where b.account_id = any(%s) and b.estimated and b.trued_up_by is null and b.status = 'issued' "
        "and b.billing_period_id <> %s order by b.id", (account_ids, billing_period_id)).fetchall()


def charges_by_agreement(conn: psycopg.Connection, bill_id: int) -> dict[int, int]:
    """agreement -> the bill's charge lines' total in minor units."""
    return {r[0]: int(r[1]) for r in conn.execute(
        "select service_agreement_id, sum(amount_minor) from bill_lines where bill_id = %s and kind = 'charge' "
        "group by 1", (bill_id,)).fetchall()}
