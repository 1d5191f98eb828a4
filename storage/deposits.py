"""Deposits as recorded: what each agreement's start required, and what became of it."""
from __future__ import annotations

from datetime import datetime

import psycopg


def premise_average_bill(conn: psycopg.Connection, agreement_id: int, since: datetime) -> int | None:
    """The average of the charges issued bills made for the agreement's service point since ``since``
    (minor units, any customer), None without history."""
    row = conn.execute(
        "select avg(charges) from (select l.bill_id, sum(l.amount_minor) as charges from bill_lines l "
        "join bills b on b.id = l.bill_id join service_agreements o on o.id = l.service_agreement_id "
        "join service_agreements sa on sa.service_point_id = o.service_point_id "
        "where sa.id = %s and b.status = 'issued' and b.issued_at >= %s and l.kind = 'charge' group by 1) t",
        (agreement_id, since)).fetchone()
    return None if row[0] is None else int(row[0])


def insert_deposit(conn: psycopg.Connection, account_id: int, agreement_id: int, amount_minor: int, status: str,
                   reason: str | None, transaction_id: int | None, actor: str) -> int:
    return conn.execute(
        "insert into deposits (account_id, service_agreement_id, amount_minor, status, reason, transaction_id, "
        "created_by) values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (account_id, agreement_id, amount_minor, status, reason, transaction_id, actor)).fetchone()[0]


def held_for_agreement(conn: psycopg.Connection, agreement_id: int) -> list[tuple[int, int, int]]:
    """(deposit id, account id, amount) of the agreement's held deposits."""
    return conn.execute("select id, account_id, amount_minor from deposits where service_agreement_id = %s "
                        "and status = 'held' order by id for update", (agreement_id,)).fetchall()


def held_since(conn: psycopg.Connection, before: datetime) -> list[tuple[int, int, int, datetime]]:
    """(deposit id, account id, amount, billed at) of deposits held since before ``before``."""
    return conn.execute("select id, account_id, amount_minor, created_at from deposits where status = 'held' "
                        "and created_at < %s order by id", (before,)).fetchall()


def late_fees_since(conn: psycopg.Connection, account_id: int, since: datetime) -> int:
    """Late fees (and returned payments) posted to the account since ``since``: what on-time is not."""
    return conn.execute("select count(*) from ledger_entries where account_id = %s and posted_at >= %s "
                        "and ledger_account = 'receivable' and entry_type in ('fee', 'payment_return')",
                        (account_id, since)).fetchone()[0]


def settle(conn: psycopg.Connection, deposit_id: int, status: str) -> None:
    conn.execute("update deposits set status = %s, settled_at = now() where id = %s", (status, deposit_id))


def account_deposits(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(id, agreement, amount, status, reason, created at, settled at) of the account's deposits."""
    return conn.execute("select id, service_agreement_id, amount_minor, status, reason, created_at, settled_at "
                        "from deposits where account_id = %s order by id", (account_id,)).fetchall()


def has_service(conn: psycopg.Connection, account_id: int) -> bool:
    """Whether an agreement of the account is still in force (not stopped)."""
    return conn.execute("select 1 from service_agreements where account_id = %s and end_date is null limit 1",
                        (account_id,)).fetchone() is not None
