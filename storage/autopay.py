"""Autopay as stored: enrollments (the gateway token, never card data) and one attempt per bill."""
from __future__ import annotations

from datetime import date

import psycopg


def enroll(conn: psycopg.Connection, account_id: int, token: str, actor: str) -> None:
    conn.execute("insert into autopay_enrollments (account_id, token, enrolled_by) values (%s, %s, %s) "
                 "on conflict (account_id) do update set token = excluded.token, active = true, "
                 "enrolled_at = now(), enrolled_by = excluded.enrolled_by, ended_at = null",
                 (account_id, token, actor))


def end(conn: psycopg.Connection, account_id: int) -> bool:
    return conn.execute("update autopay_enrollments set active = false, ended_at = now() "
                        "where account_id = %s and active", (account_id,)).rowcount == 1


def enrollment(conn: psycopg.Connection, account_id: int) -> tuple | None:
    """(active, enrolled at) of the account's enrollment."""
    return conn.execute("select active, enrolled_at from autopay_enrollments where account_id = %s",
                        (account_id,)).fetchone()


def due_bills(conn: psycopg.Connection, today: date) -> list[tuple[int, int, str, str, str]]:
    """(bill id, account id, account number, currency, token) of every issued bill due on or before
    ``today`` (in the 60 days before: older ones are collections') of an enrolled account, not attempted
    yet, oldest first."""
    return conn.execute(
        "select b.id, a.id, a.account_no, b.currency, e.token from bills b join accounts a on a.id = b.account_id "
        "join autopay_enrollments e on e.account_id = a.id and e.active "
        "where b.status = 'issued' and b.due_date is not null and b.due_date <= %s and b.due_date > %s::date - 60 "
        "and not exists (select 1 from autopay_attempts t where t.bill_id = b.id) order by b.due_date, b.id",
        (today, today)).fetchall()


def record_attempt(conn: psycopg.Connection, bill_id: int, account_id: int, amount_minor: int, status: str,
                   reference: str, message: str, payment_id: int | None) -> bool:
    return conn.execute(
        "insert into autopay_attempts (bill_id, account_id, amount_minor, status, reference, message, payment_id) "
        "values (%s, %s, %s, %s, %s, %s, %s) on conflict (bill_id) do nothing",
        (bill_id, account_id, amount_minor, status, reference, message, payment_id)).rowcount == 1


def attempts(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    return conn.execute("select bill_id, amount_minor, status, message, attempted_at from autopay_attempts "
                        "where account_id = %s order by attempted_at desc", (account_id,)).fetchall()
