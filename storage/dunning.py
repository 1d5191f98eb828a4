"""What collections reads and writes: past-due candidates, the steps taken per bill
(``collection_steps``), payment arrangements and their installments."""
from __future__ import annotations

from datetime import date, datetime

import psycopg


def candidate_accounts(conn: psycopg.Connection, smallest_grace: int, today: date) -> list[int]:
    """Accounts with an issued bill due more than ``smallest_grace`` days before today, or an active
    arrangement."""
    return [r[0] for r in conn.execute(
        "select account_id from bills where status = 'issued' and due_date is not null and due_date + %s < %s "
        "union select account_id from payment_arrangements where status = 'active' order by 1",
        (smallest_grace, today)).fetchall()]


def due_dates(conn: psycopg.Connection, bill_ids: list[int]) -> dict[int, date]:
    return dict(conn.execute("select id, due_date from bills where id = any(%s) and due_date is not null",
                             (bill_ids,)).fetchall())


def steps_taken(conn: psycopg.Connection, bill_ids: list[int]) -> dict[tuple[int, str, str], date]:
    """(bill id, step, service) -> the business day it was taken."""
    return {(r[0], r[1], r[2]): r[3] for r in conn.execute(
        "select bill_id, step, service, business_date from collection_steps where bill_id = any(%s)",
        (bill_ids,)).fetchall()}


def services_in_force(conn: psycopg.Connection, account_id: int, day: date) -> list[str]:
    return [r[0] for r in conn.execute(
        "select distinct service from service_agreements where account_id = %s and start_date <= %s "
        "and (end_date is null or end_date > %s) order by 1", (account_id, day, day)).fetchall()]


def record_step(conn: psycopg.Connection, account_id: int, bill_id: int, step: str, service: str, day: date,
                amount_minor: int, notice_id: int | None) -> None:
    conn.execute("insert into collection_steps (account_id, bill_id, step, service, business_date, amount_minor, "
                 "notice_id) values (%s, %s, %s, %s, %s, %s, %s)",
                 (account_id, bill_id, step, service, day, amount_minor, notice_id))


def active_arrangement(conn: psycopg.Connection, account_id: int) -> tuple[int, int, datetime] | None:
    """(id, total minor, created at) of the account's active arrangement."""
    return conn.execute("select id, total_minor, created_at from payment_arrangements "
                        "where account_id = %s and status = 'active'", (account_id,)).fetchone()


def paid_since(conn: psycopg.Connection, account_id: int, receivable: str, since: datetime) -> int:
    """What the account paid (net of returned payments) since ``since``, in minor units."""
    return -int(conn.execute(
        "select coalesce(sum(amount_minor), 0) from ledger_entries where account_id = %s and ledger_account = %s "
        "and entry_type in ('payment', 'payment_return') and posted_at >= %s",
        (account_id, receivable, since)).fetchone()[0])


def installments_due(conn: psycopg.Connection, arrangement_id: int, grace_days: int, today: date) -> int:
    """The installments due (past their grace days) by today, in minor units."""
    return int(conn.execute(
        "select coalesce(sum(amount_minor), 0) from arrangement_installments where arrangement_id = %s "
        "and due_on + %s < %s", (arrangement_id, grace_days, today)).fetchone()[0])


def close_arrangement(conn: psycopg.Connection, arrangement_id: int, status: str, at: datetime) -> None:
    conn.execute("update payment_arrangements set status = %s, closed_at = %s where id = %s",
                 (status, at, arrangement_id))


def insert_arrangement(conn: psycopg.Connection, account_id: int, total_minor: int, starts_on: date, actor: str,
                       reason: str, now: datetime, installments: list[tuple[date, int]]) -> int:
    """A new active arrangement with its (due on, amount minor) installments; returns its id."""
    arrangement_id = conn.execute(
        "insert into payment_arrangements (account_id, total_minor, starts_on, status, created_by, reason, created_at) "
        "values (%s, %s, %s, 'active', %s, %s, %s) returning id",
        (account_id, total_minor, starts_on, actor, reason, now)).fetchone()[0]
    with conn.cursor() as cursor:
        cursor.executemany("insert into arrangement_installments (arrangement_id, number, due_on, amount_minor) "
                           "values (%s, %s, %s, %s)",
                           [(arrangement_id, number, due_on, amount)
                            for number, (due_on, amount) in enumerate(installments, start=1)])
    return arrangement_id


def broken_since(conn: psycopg.Connection, account_id: int, since: datetime) -> bool:
    """Whether an arrangement of the account was broken since ``since``."""
    return conn.execute("select 1 from payment_arrangements where account_id = %s and status = 'broken' "
                        "and closed_at >= %s", (account_id, since)).fetchone() is not None


def installments(conn: psycopg.Connection, arrangement_id: int) -> list[tuple[int, date, int]]:
    """(number, due on, amount minor) of the arrangement's installments."""
    return conn.execute("select number, due_on, amount_minor from arrangement_installments "
                        "where arrangement_id = %s order by number", (arrangement_id,)).fetchall()
