"""The accounts-receivable ledger's rules, pure: the chart of accounts, balanced transactions, and the
open items of a customer account derived from its ledger entries alone.

Every transaction is a list of (ledger account, amount) postings, debit positive and credit
negative, summing to zero. A customer account's balance is the sum of its ``receivable`` postings.
Which invoice a payment paid is not stored anywhere: credits settle the oldest open debit first
(a credit that names a bill, such as a bill's reversal or its budget deferral, settles that bill
first), and a credit left over is the customer's credit balance, used by the next debit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from billing.errors import Unbalanced

RECEIVABLE = "receivable"
CASH = "cash"
FEES = "revenue:fees"
ADJUSTMENTS = "adjustments"
BUDGET_DEFERRED = "budget_deferred"
OPENING_BALANCE = "opening_balance"

def revenue(service: str) -> str:
    return f"revenue:{service}"


def balanced(postings: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The postings without zero amounts; raises unless they sum to zero."""
    postings = [(account, int(amount)) for account, amount in postings if amount]
    if sum(amount for _, amount in postings) != 0:
        raise Unbalanced(f"postings do not sum to zero: {postings}")
    return postings


def reversal(postings: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(account, -amount) for account, amount in postings]


@dataclass(frozen=True)
class Entry:
    """One posting of a customer account as stored."""
    transaction_id: int
    ledger_account: str
    amount_minor: int
    entry_type: str
    bill_id: int | None = None
    payment_id: int | None = None
    posted_at: datetime | None = None


@dataclass
class OpenItem:
    """A debit to the customer's receivable (a bill, a fee, a returned payment, a debit adjustment) and
    how much of it is still unpaid."""
    transaction_id: int
    entry_type: str
    bill_id: int | None
    amount_minor: int
    open_minor: int
    posted_at: datetime | None


@dataclass
class Receivable:
    items: list[OpenItem]
    credit_minor: int  # unapplied credit (overpayments), >= 0

    @property
    def balance_minor(self) -> int:
        return sum(item.open_minor for item in self.items) - self.credit_minor

    def open_items(self) -> list[OpenItem]:
        return [item for item in self.items if item.open_minor > 0]


def receivable(entries: Iterable[Entry]) -> Receivable:
    """Open items of one customer account from its entries (any order; other ledger accounts are ignored).

    Receivable postings are netted per transaction; a transaction that nets to a debit opens an item,
    one that nets to a credit settles items. A bill's reversal and the bill cancel out first.
    """
    by_transaction: dict[int, list[Entry]] = {}
    for entry in entries:
        if entry.ledger_account == RECEIVABLE:
            by_transaction.setdefault(entry.transaction_id, []).append(entry)
    items: list[OpenItem] = []
    item_of_bill: dict[int, OpenItem] = {}
    credit = 0
    for transaction_id in sorted(by_transaction):
        postings = by_transaction[transaction_id]
        amount = sum(e.amount_minor for e in postings)
        first = postings[0]
        if amount > 0:
            item = OpenItem(transaction_id, first.entry_type, first.bill_id, amount, amount, first.posted_at)
            items.append(item)
            if first.bill_id is not None and first.entry_type == "bill":
                item_of_bill[first.bill_id] = item
            used = min(credit, amount)
            item.open_minor -= used
            credit -= used
        elif amount < 0:
            left = -amount
            target = item_of_bill.get(first.bill_id) if first.bill_id is not None else None
            if target is not None:
                used = min(left, target.open_minor)
                target.open_minor -= used
                left -= used
            for item in items:
                if not left:
                    break
                used = min(left, item.open_minor)
                item.open_minor -= used
                left -= used
            credit += left
    return Receivable(items, credit)


def trial_balance(totals: Iterable[tuple[str, int, int]]) -> tuple[list[tuple[str, int, int]], int, int]:
    """(ledger account, debits, credits) rows → the rows, total debits, total credits (credits positive)."""
    rows = sorted(totals)
    return rows, sum(r[1] for r in rows), sum(r[2] for r in rows)
