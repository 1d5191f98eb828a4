"""Posting to the AR ledger and reading it back: balances, open items and the trial balance, all
derived from the immutable ``ledger_entries`` rows alone."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from billing.errors import BadAmount, ReasonRequired, UnknownAccount
from billing.ledger import ADJUSTMENTS, RECEIVABLE, Entry, Receivable, balanced, receivable
from rating.money import MINOR_UNITS


def lock_account(conn: psycopg.Connection, account_id: int) -> tuple[int, str, str]:
    """Lock the account's row for the transaction (ledger order per account is commit order);
    returns (id, account_no, currency)."""
    row = conn.execute("select id, account_no, currency from accounts where id = %s for update",
                       (account_id,)).fetchone()
    if row is None:
        raise UnknownAccount(f"no account {account_id}")
    return row


def account_id_of(conn: psycopg.Connection, account_no: str) -> int:
    row = conn.execute("select id from accounts where account_no = %s", (account_no,)).fetchone()
    if row is None:
        raise UnknownAccount(f"no account {account_no!r}")
    return row[0]


def post(conn: psycopg.Connection, account_id: int, postings: list[tuple[str, int, str]], posted_at: datetime, *,
         bill_id: int | None = None, payment_id: int | None = None, memo: str | None = None,
         created_by: str | None = None) -> int:
    """Write one balanced transaction of (ledger account, amount, entry type) postings; the caller holds
    the account's lock (:func:`lock_account`) inside its transaction. Returns the transaction id."""
    balanced((account, amount) for account, amount, _ in postings)
    transaction_id = conn.execute("select nextval('ledger_transaction_ids')").fetchone()[0]
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into ledger_entries (transaction_id, account_id, ledger_account, amount_minor, entry_type, "
            "bill_id, payment_id, posted_at, memo, created_by) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, current_user))",
            [(transaction_id, account_id, account, amount, entry_type, bill_id, payment_id, posted_at, memo,
              created_by) for account, amount, entry_type in postings if amount])
    return transaction_id


def to_minor_exact(amount: Decimal, currency: str, what: str = "amount") -> int:
    """An amount given in the currency's major unit, refused if it has more decimals than the currency."""
    exponent = MINOR_UNITS[currency]
    if not amount.is_finite():
        raise BadAmount(f"{what} is not a number: {amount}")
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise BadAmount(f"{what} {amount} has more than {exponent} decimals")
    return int(minor)


def adjust(conn: psycopg.Connection, account_id: int, amount_minor: int, reason: str, actor: str,
           posted_at: datetime) -> int:
    """A manual adjustment: positive charges the customer, negative credits them."""
    if not amount_minor:
        raise BadAmount("an adjustment of zero changes nothing")
    if not reason.strip() or not actor.strip():
        raise ReasonRequired("an adjustment needs who made it and why")
    with conn.transaction():
        lock_account(conn, account_id)
        return post(conn, account_id, [(RECEIVABLE, amount_minor, "adjustment"),
                                       (ADJUSTMENTS, -amount_minor, "adjustment")],
                    posted_at, memo=reason, created_by=actor)


def account_entries(conn: psycopg.Connection, account_id: int) -> list[Entry]:
    rows = conn.execute("select transaction_id, ledger_account, amount_minor, entry_type, bill_id, payment_id, "
                        "posted_at from ledger_entries where account_id = %s order by transaction_id, id",
                        (account_id,)).fetchall()
    return [Entry(*row) for row in rows]


def account_receivable(conn: psycopg.Connection, account_id: int) -> Receivable:
    return receivable(account_entries(conn, account_id))


def account_balance(conn: psycopg.Connection, account_id: int) -> int:
    """One customer account's balance (sum of its receivable entries)."""
    row = conn.execute("select coalesce(sum(amount_minor), 0) from ledger_entries where account_id = %s "
                        "and ledger_account = %s", (account_id, RECEIVABLE)).fetchone()
    return int(row[0])


def balances(conn: psycopg.Connection) -> dict[int, int]:
    """Every customer account's balance (sum of its receivable entries)."""
    rows = conn.execute("select account_id, sum(amount_minor) from ledger_entries where ledger_account = %s "
                        "group by account_id", (RECEIVABLE,)).fetchall()
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
