"""Posting to the AR ledger and reading it back: balances, open items and the trial balance, all
derived from the immutable ``ledger_entries`` rows alone."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg

from billing.errors import BadAmount, UnknownAccount
from config.errors import require_who_and_why
from billing.ledger import ADJUSTMENTS, RECEIVABLE, Entry, Receivable, balanced, receivable
from rating.money import MINOR_UNITS
from storage import accounts, ledger_entries as entries


def lock_account(conn: psycopg.Connection, account_id: int) -> tuple[int, str, str]:
    """Lock the account's row for the transaction (ledger order per account is commit order);
    returns (id, account_no, currency)."""
    row = entries.lock_account(conn, account_id)
    if row is None:
        raise UnknownAccount(f"no account {account_id}")
    return row


def account_id_of(conn: psycopg.Connection, account_no: str) -> int:
    found = accounts.account_id_of(conn, account_no)
    if found is None:
        raise UnknownAccount(f"no account {account_no!r}")
    return found


def post(conn: psycopg.Connection, account_id: int, postings: list[tuple[str, int, str]], posted_at: datetime, *,
         bill_id: int | None = None, payment_id: int | None = None, memo: str | None = None,
         created_by: str | None = None) -> int:
    """Write one balanced transaction of (ledger account, amount, entry type) postings; the caller holds
    the account's lock (:func:`lock_account`) inside its transaction. Returns the transaction id."""
    balanced((account, amount) for account, amount, _ in postings)
    return entries.insert_transaction(conn, account_id, postings, posted_at, bill_id, payment_id, memo, created_by)


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
    require_who_and_why(actor, reason, "an adjustment needs who made it and why")
    with conn.transaction():
        lock_account(conn, account_id)
        return post(conn, account_id, [(RECEIVABLE, amount_minor, "adjustment"),
                                       (ADJUSTMENTS, -amount_minor, "adjustment")],
                    posted_at, memo=reason, created_by=actor)


def account_entries(conn: psycopg.Connection, account_id: int) -> list[Entry]:
    return [Entry(*row) for row in entries.account_entries(conn, account_id)]


def account_receivable(conn: psycopg.Connection, account_id: int) -> Receivable:
    return receivable(account_entries(conn, account_id))


def account_balance(conn: psycopg.Connection, account_id: int) -> int:
    """One customer account's balance (sum of its receivable entries)."""
    return entries.account_total(conn, account_id, RECEIVABLE)


def balances(conn: psycopg.Connection) -> dict[int, int]:
    """Every customer account's balance (sum of its receivable entries)."""
    return entries.totals_by_account(conn, RECEIVABLE)
