"""Outbound notices to a customer (bill ready, reminder, final notice, disconnect eligibility,
returned payment, arrangement); delivered through the account's channel by :mod:`billing.delivery`."""
from __future__ import annotations

import psycopg


def create_notice(conn: psycopg.Connection, account_id: int, kind: str, subject: str, body: str,
                  bill_id: int | None = None) -> int:
    return conn.execute("insert into notices (account_id, bill_id, kind, subject, body) values (%s, %s, %s, %s, %s) "
                        "returning id", (account_id, bill_id, kind, subject, body)).fetchone()[0]
