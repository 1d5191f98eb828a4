"""The AR ledger's rows: ``ledger_entries`` (immutable; one transaction's entries sum to zero) and the
account row each posting locks."""
from __future__ import annotations

from datetime import datetime

import psycopg


def lock_account(conn: psycopg.Connection, account_id: int) -> tuple[int, str, str] | None:
    """Lock the account's row for the transaction; (id, account_no, currency), None when there is none."""
    return conn.execute("select id, account_no, currency from accounts where id = %s for update",
                        (account_id,)).fetchone()


def insert_transaction(conn: psycopg.Connection, account_id: int, postings: list[tuple[str, int, str]],
                       posted_at: datetime, bill_id: int | None, payment_id: int | None, memo: str | None,
                       created_by: str | None) -> int:
    """Write one transaction's (ledger account, amount, entry type) entries, zero amounts left out;
    returns the transaction id."""
    transaction_id = conn.execute("select nextval('ledger_transaction_ids')").fetchone()[0]
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into ledger_entries (transaction_id, account_id, ledger_account, amount_minor, entry_type, "
            "bill_id, payment_id, posted_at, memo, created_by) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, current_user))",
            [(transaction_id, account_id, account, amount, entry_type, bill_id, payment_id, posted_at, memo,
              created_by) for account, amount, entry_type in postings if amount])
    return transaction_id


def account_entries(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(transaction id, ledger account, amount minor, entry type, bill id, payment id, posted at), in order."""
    return conn.execute("select transaction_id, ledger_account, amount_minor, entry_type, bill_id, payment_id, "
                        "posted_at from ledger_entries where account_id = %s order by transaction_id, id",
                        (account_id,)).fetchall()


def account_total(conn: psycopg.Connection, account_id: int, ledger_account: str) -> int:
    row = conn.execute("select coalesce(sum(amount_minor), 0) from ledger_entries where account_id = %s "
                       "and ledger_account = %s", (account_id, ledger_account)).fetchone()
    return int(row[0])


def totals_by_account(conn: psycopg.Connection, ledger_account: str) -> dict[int, int]:
    rows = conn.execute("select account_id, sum(amount_minor) from ledger_entries where ledger_account = %s "
                        "group by account_id", (ledger_account,)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def trial_balance(conn: psycopg.Connection) -> list[tuple[str, int, int]]:
    """(ledger account, debits, credits) over all entries; credits as positive numbers."""
    rows = conn.execute(
        "select ledger_account, coalesce(sum(amount_minor) filter (where amount_minor > 0), 0), "
        "coalesce(-sum(amount_minor) filter (where amount_minor < 0), 0) from ledger_entries "
        "group by ledger_account order by ledger_account").fetchall()
    return [(r[0], int(r[1]), int(r[2])) for r in rows]


def unbalanced_transactions(conn: psycopg.Connection) -> list[int]:
    return [r[0] for r in conn.execute("select transaction_id from ledger_entries group by transaction_id "
                                       "having sum(amount_minor) <> 0 order by 1").fetchall()]
