"""An account's delivery and notice choices and its customer's contact details, as stored."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb


def preferences(conn: psycopg.Connection, account_no: str) -> tuple | None:
    """(delivery channel, paperless, e-mail, phone, the customer's preferences) of the account."""
    return conn.execute(
        "select a.delivery_channel, a.paperless, a.email, c.phone, c.preferences from accounts a "
        "join customers c on c.id = a.customer_id where a.account_no = %s", (account_no,)).fetchone()


def lock_account(conn: psycopg.Connection, account_no: str) -> int:
    return conn.execute("select id from accounts where account_no = %s for update", (account_no,)).fetchone()[0]


def update(conn: psycopg.Connection, account_id: int, delivery: str, paperless: bool, email: str | None,
           phone: str | None, notices_off: list[str]) -> None:
    """The account's delivery and e-mail, and its customer's e-mail, phone and notices turned off."""
    conn.execute("update accounts set delivery_channel = %s, paperless = %s, email = %s where id = %s",
                 (delivery, paperless, email, account_id))
    conn.execute("update customers set email = %s, phone = %s, "
                 "preferences = jsonb_set(preferences, '{notices_off}', %s) "
                 "where id = (select customer_id from accounts where id = %s)",
                 (email, phone, Jsonb(notices_off), account_id))


def notice_preferences(conn: psycopg.Connection, notice_ids: list[int]) -> dict[int, tuple[str, bool, dict]]:
    """notice id -> (its kind, whether it is required, its customer's preferences)."""
    return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(
        "select n.id, n.kind, n.required, c.preferences from notices n join accounts a on a.id = n.account_id "
        "join customers c on c.id = a.customer_id where n.id = any(%s)", (notice_ids,))}
