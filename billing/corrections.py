"""Cancel/rebill: a cancelled bill keeps its rows and gets a reversal of every ledger posting it made;
the rebill is an ordinary bill run for that one account and period, priced from the reads as they
are now (corrected by staff edits, late reads or re-estimation), marked as replacing the old bill.
Both stay visible on the account."""
from __future__ import annotations

from datetime import date, datetime

import psycopg

from billing.errors import NotIssued, ReasonRequired, UnknownBill
from billing.ledger import reversal
from billing.postings import lock_account, post


def cancel_bill(conn: psycopg.Connection, bill_id: int, actor: str, reason: str, posted_at: datetime) -> int:
    """Returns the ledger transaction of the reversal."""
    if not (actor or "").strip() or not (reason or "").strip():
        raise ReasonRequired("cancelling a bill needs who and why")
    conn.autocommit = True
    with conn.transaction():
        row = conn.execute("select account_id, status from bills where id = %s", (bill_id,)).fetchone()
        if row is None:
            raise UnknownBill(f"no bill {bill_id}")
        account_id, _ = row
        lock_account(conn, account_id)
        status = conn.execute("select status from bills where id = %s for update", (bill_id,)).fetchone()[0]
        if status != "issued":
            raise NotIssued(f"bill {bill_id} is {status}")
        postings = conn.execute(
            "select ledger_account, amount_minor from ledger_entries where bill_id = %s "
            "and entry_type in ('bill', 'budget_deferral', 'budget_true_up') order by id", (bill_id,)).fetchall()
        transaction_id = post(conn, account_id, [(account, amount, "bill_reversal")
                                                 for account, amount in reversal(postings)],
                              posted_at, bill_id=bill_id, memo=f"cancel: {reason}", created_by=actor)
        conn.execute("update bills set status = 'cancelled', cancelled_at = %s, cancelled_by = %s, cancel_reason = %s "
                     "where id = %s", (posted_at, actor, reason, bill_id))
        conn.execute("update bill_corrections set status = 'rebilled' where bill_id = %s", (bill_id,))
        # the period is open again for this account: its rebill is billed by the next run
    return transaction_id


def period_of(conn: psycopg.Connection, bill_id: int) -> tuple[int, int]:
    """(billing period, account) of a bill."""
    row = conn.execute("select billing_period_id, account_id from bills where id = %s", (bill_id,)).fetchone()
    if row is None:
        raise UnknownBill(f"no bill {bill_id}")
    return row


def raise_corrections(conn: psycopg.Connection, since: date | None = None) -> int:
    """Issued bills (of periods ending on or after ``since``) whose period's usage changed after billing
    (late or corrected reads): one open correction each, with the quantities billed and now. Returns
    how many were raised."""
    return conn.execute(
        "insert into bill_corrections (bill_id, account_id, billed_quantity, current_quantity, billed_reads, "
        "current_reads) "
        "select b.id, b.account_id, billed.quantity, coalesce(now_.quantity, 0), billed.reads, coalesce(now_.reads, 0) "
        "from bills b "
        "join lateral (select sum(quantity) as quantity, sum(read_count) as reads from bill_usage u "
        "              where u.bill_id = b.id) billed on true "
        "left join lateral (select sum(d.quantity) as quantity, sum(d.read_count) as reads from bill_usage u "
        "                   join usage_daily d on d.service_agreement_id = u.service_agreement_id and d.channel = 1 "
        "                    and d.local_day >= u.first_day and d.local_day < u.end_day "
        "                   where u.bill_id = b.id) now_ on true "
        "where b.status = 'issued' and b.period_end >= %s "
        "  and (billed.quantity, billed.reads) is distinct from (now_.quantity, now_.reads) "
        "on conflict (bill_id) do nothing", (since or date.min,)).rowcount
