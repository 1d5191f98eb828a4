"""Cancel/rebill: a cancelled bill keeps its rows and gets a reversal of every ledger posting it made;
the rebill is an ordinary bill run for that one account and period, priced from the reads as they
are now (corrected by staff edits, late reads or re-estimation), marked as replacing the old bill.
Both stay visible on the account."""
from __future__ import annotations

from datetime import date, datetime

import psycopg

from billing.errors import NotIssued, UnknownBill
from config.errors import require_who_and_why
from billing.ledger import reversal
from billing.postings import lock_account, post
from storage import bill_records as records


def cancel_bill(conn: psycopg.Connection, bill_id: int, actor: str, reason: str, posted_at: datetime) -> int:
    """Returns the ledger transaction of the reversal."""
    require_who_and_why(actor, reason, "cancelling a bill needs who and why")
    conn.autocommit = True
    with conn.transaction():
        row = records.account_and_status(conn, bill_id)
        if row is None:
            raise UnknownBill(f"no bill {bill_id}")
        account_id, _ = row
        lock_account(conn, account_id)
        status = records.lock_status(conn, bill_id)
        if status != "issued":
            raise NotIssued(f"bill {bill_id} is {status}")
        postings = records.bill_postings(conn, bill_id)
        transaction_id = post(conn, account_id, [(account, amount, "bill_reversal")
                                                 for account, amount in reversal(postings)],
                              posted_at, bill_id=bill_id, memo=f"cancel: {reason}", created_by=actor)
        records.mark_cancelled(conn, bill_id, posted_at, actor, reason)
        # the period is open again for this account: its rebill is billed by the next run
    return transaction_id


def period_of(conn: psycopg.Connection, bill_id: int) -> tuple[int, int]:
    """(billing period, account) of a bill."""
    row = records.period_and_account(conn, bill_id)
    if row is None:
        raise UnknownBill(f"no bill {bill_id}")
    return row


def raise_corrections(conn: psycopg.Connection, since: date | None = None) -> int:
    """Issued bills (of periods ending on or after ``since``) whose period's usage changed after billing
    (late or corrected reads): one open correction each, with the quantities billed and now. Returns
    how many were raised."""
    return records.raise_corrections(conn, since or date.min)
