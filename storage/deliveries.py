"""Bill and notice delivery as recorded: what is still to deliver, each attempt (``deliveries``), and the
delivered time (and, for a bill, its due date) once it went out."""
from __future__ import annotations

from datetime import date, datetime

import psycopg


def pending(conn: psycopg.Connection, limit: int) -> list[tuple[str, int, str, bool]]:
    """('bill' or 'notice', id, the channel (the account's, or the notice's own), whether the account has an
    e-mail address), bills first."""
    return conn.execute(
        "select 'bill', b.id, a.delivery_channel, a.email is not null from bills b join accounts a on a.id = b.account_id "
        "where b.delivered_at is null and b.status = 'issued' "
        "union all "
        "select 'notice', n.id, coalesce(n.channel, a.delivery_channel), a.email is not null from notices n "
        "join accounts a on a.id = n.account_id where n.delivered_at is null "
        "order by 1, 2 limit %s", (limit,)).fetchall()


def record_attempt(conn: psycopg.Connection, account_id: int, bill_id: int | None, notice_id: int | None, channel: str,
                   status: str, detail: str) -> None:
    conn.execute("insert into deliveries (account_id, bill_id, notice_id, channel, status, detail) "
                 "values (%s, %s, %s, %s, %s, %s)", (account_id, bill_id, notice_id, channel, status, detail))


def bill_delivered(conn: psycopg.Connection, bill_id: int, at: datetime, channel: str, due: date) -> None:
    conn.execute("update bills set delivered_at = %s, delivery_channel = %s, due_date = %s "
                 "where id = %s and delivered_at is null", (at, channel, due, bill_id))


def notice_delivered(conn: psycopg.Connection, notice_id: int, at: datetime) -> None:
    conn.execute("update notices set delivered_at = %s where id = %s and delivered_at is null", (at, notice_id))
