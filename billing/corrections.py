"""Cancel/rebill: a cancelled bill keeps its rows and gets a reversal of every ledger posting it made;
the rebill is an ordinary bill run for that one account and period, priced from the reads as they
are now (corrected by staff edits, late reads or re-estimation), marked as replacing the old bill.
Both stay visible on the account."""
from __future__ import annotations

from datetime import datetime

import psycopg

from billing.errors import BillStateError, LedgerError
from billing.ledger import reversal
from billing.postings import lock_account, post


def cancel_bill(conn: psycopg.Connection, bill_id: int, actor: str, reason: str, posted_at: datetime) -> int:
    """Returns the ledger transaction of the reversal."""
    if not (actor or "").strip() or not (reason or "").strip():
        raise LedgerError("who_and_why", "cancelling a bill needs who and why")
    conn.autocommit = True
    with conn.transaction():
        row = conn.execute("select account_id, status from bills where id = %s", (bill_id,)).fetchone()
        if row is None:
            raise BillStateError("unknown_bill", f"no bill {bill_id}")
        account_id, _ = row
        lock_account(conn, account_id)
        status = conn.execute("select status from bills where id = %s for update", (bill_id,)).fetchone()[0]
        if status != "issued":
            raise BillStateError("not_issued", f"bill {bill_id} is {status}")
        postings = conn.execute(
            "select ledger_account, amount_minor from ledger_entries where bill_id = %s "
            "and entry_type in ('bill', 'budget_deferral', 'budget_true_up') order by id", (bill_id,)).fetchall()
        transaction_id = post(conn, account_id, [(account, amount, "bill_reversal")
                                                 for account, amount in reversal(postings)],
                              posted_at, bill_id=bill_id, memo=f"cancel: {reason}", created_by=actor)
        conn.execute("update bills set status = 'cancelled', cancelled_at = %s, cancelled_by = %s, cancel_reason = %s "
                     "where id = %s", (posted_at, actor, reason, bill_id))
        # the period is open again for this account: its rebill is billed by the next run
    return transaction_id


def period_of(conn: psycopg.Connection, bill_id: int) -> tuple[int, int]:
    """(billing period, account) of a bill."""
    row = conn.execute("select billing_period_id, account_id from bills where id = %s", (bill_id,)).fetchone()
    if row is None:
        raise BillStateError("unknown_bill", f"no bill {bill_id}")
    return row
