"""Payments as stored: ``payments`` (unique by channel and reference) and the staff actions on them
(``payment_actions``)."""
from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg.types.json import Jsonb


def insert(conn: psycopg.Connection, channel: str, reference: str, account_id: int | None, account_ref: str | None,
           invoice_ref: str | None, amount_minor: int, currency: str, method: str, received_on: date, status: str,
           reason: str | None, source_file: str | None, source_line: int | None) -> int | None:
    """The new payment's id; None when the channel and reference were taken before."""
    row = conn.execute(
        "insert into payments (channel, reference, account_id, account_ref, invoice_ref, amount_minor, currency, "
        "method, received_on, status, exception_reason, source_file, source_line) "
        "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "on conflict (channel, reference) do nothing returning id",
        (channel, reference, account_id, account_ref, invoice_ref, amount_minor, currency, method, received_on,
         status, reason, source_file, source_line)).fetchone()
    return None if row is None else row[0]


def by_reference(conn: psycopg.Connection, channel: str, reference: str) -> tuple[int, int | None]:
    """(id, account id) of the payment taken with that channel and reference."""
    return conn.execute("select id, account_id from payments where channel = %s and reference = %s",
                        (channel, reference)).fetchone()


def account_and_currency(conn: psycopg.Connection, account_no: str) -> tuple[int, str] | None:
    return conn.execute("select id, currency from accounts where account_no = %s", (account_no,)).fetchone()


def account_of_bill(conn: psycopg.Connection, bill_id: int) -> int | None:
    row = conn.execute("select account_id from bills where id = %s", (bill_id,)).fetchone()
    return None if row is None else row[0]


def lock_payment(conn: psycopg.Connection, payment_id: int) -> tuple[str, int, str] | None:
    """(status, amount minor, reference), the row locked for the transaction."""
    return conn.execute("select status, amount_minor, reference from payments where id = %s for update",
                        (payment_id,)).fetchone()


def payment(conn: psycopg.Connection, payment_id: int) -> tuple[str, int, int | None, str] | None:
    """(status, amount minor, account id, reference)."""
    return conn.execute("select status, amount_minor, account_id, reference from payments where id = %s",
                        (payment_id,)).fetchone()


def apply_to(conn: psycopg.Connection, payment_id: int, account_id: int) -> None:
    conn.execute("update payments set status = 'applied', account_id = %s where id = %s", (account_id, payment_id))


def mark_returned(conn: psycopg.Connection, payment_id: int, returned_at: datetime, reason: str) -> None:
    conn.execute("update payments set status = 'returned', returned_at = %s, return_reason = %s where id = %s",
                 (returned_at, reason, payment_id))


def record_action(conn: psycopg.Connection, payment_id: int, action: str, actor: str, reason: str,
                  details: dict) -> None:
    conn.execute("insert into payment_actions (payment_id, action, actor, reason, details) values (%s, %s, %s, %s, %s)",
                 (payment_id, action, actor, reason, Jsonb(details)))

