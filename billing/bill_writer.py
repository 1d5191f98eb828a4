"""Write a chunk of finished bills in one transaction: bills, lines, the usage they priced, their
ledger postings (with a levelized-billing deferral and true-up where the account has a budget) and
the account statement each bill carries.

The chunk's account rows are locked first, and a payment locks its account the same way, so the
ledger transactions of one account are numbered in the order they commit: a statement sums the
account's entries between its bill's transaction and the previous bill's, nothing falls between.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from billing.invoice import AccountBill
from billing.ledger import BUDGET_DEFERRED, RECEIVABLE, balanced
from billing.entities import Entity, entity_for
from storage import bill_rows as rows


@dataclass(frozen=True)
class AccountTerms:
    """What the bill run needs to know about an account beyond its usage."""
    account_id: int
    billing_entity: str
    budget_amount_minor: int | None
    budget_started_on: object | None
    rebill_of: int | None  # the latest cancelled bill of the period, if any


def account_terms(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> dict[int, AccountTerms]:
    return {r[0]: AccountTerms(*r) for r in rows.account_terms(conn, account_ids, billing_period_id)}


def write_bills(conn: psycopg.Connection, run_id: int, billing_period_id: int, bills: list[AccountBill],
                terms: dict[int, AccountTerms], entities: dict[str, Entity],
                issued_at: datetime, final=None) -> dict[int, tuple[int, int]]:
    """Returns {account_id: (bill_id, current charges)} of the bills written; a bill that exists already
    (a concurrent or earlier run) is skipped with its lines and ledger entries. ``final`` (agreement,
    first day, end day): the one bill is that agreement's final bill."""
    if not bills:
        return {}
    with conn.transaction():
        account_ids = sorted(b.account_id for b in bills)
        totals = {b.account_id: b.total_minor for b in bills}
        rows.lock_accounts(conn, account_ids)
        basis = rows.statement_basis(conn, account_ids)
        budget = rows.budget_state(conn, [b.account_id for b in bills if terms[b.account_id].budget_started_on],
                                   BUDGET_DEFERRED)
        transaction_ids = rows.transaction_ids(conn, len(bills))
        postings_of, statements = {}, []
        for transaction_id, bill in zip(transaction_ids, bills):
            postings = _postings(bill, terms[bill.account_id], budget.get(bill.account_id, (0, 0)), entities)
            postings_of[bill.account_id] = (transaction_id, postings)
            previous, payments, adjustments, fees = basis[bill.account_id]
            budget_minor = sum(amount for account, amount, kind in postings
                               if account == RECEIVABLE and kind != "bill")
            statements.append((previous, payments, adjustments, fees, budget_minor,
                               previous + payments + adjustments + fees + totals[bill.account_id] + budget_minor))
        bill_id = rows.insert_bills(conn, run_id, billing_period_id, issued_at, [b.account_id for b in bills],
                                    [totals[b.account_id] for b in bills], [b.estimated for b in bills],
                                    [terms[b.account_id].rebill_of for b in bills], transaction_ids, statements,
                                    final)
        written = [b for b in bills if b.account_id in bill_id]
        if not written:
            return {}
        rows.copy_lines(conn, [(bill_id[bill.account_id], number, *line) for bill in written
                               for number, line in enumerate(bill.line_rows(), start=1)])
        rows.copy_usage(conn, [(bill_id[bill.account_id], *usage) for bill in written for usage in bill.usage_rows()])
        rows.copy_entries(conn, [(postings_of[b.account_id][0], b.account_id, account, amount, kind, bill_id[b.account_id])
                                 for b in written for account, amount, kind in postings_of[b.account_id][1] if amount],
                          issued_at)
        rows.mark_trued_up(conn, [(old, bill_id[b.account_id]) for b in written for old in b.trued_up()])
    return {b.account_id: (bill_id[b.account_id], totals[b.account_id]) for b in written}


def _postings(bill: AccountBill, terms: AccountTerms, budget: tuple[int, int],
              entities: dict[str, Entity]) -> list[tuple[str, int, str]]:
    """The bill's ledger postings: its charges, and the levelized-billing deferral or true-up."""
    postings = [(account, amount, "bill") for account, amount in bill.ledger_postings()]
    deferred, bills_on_budget = budget
    if terms.budget_amount_minor:
        entity = entity_for(entities, terms.billing_entity)
        postings += budget_postings(bill.total_minor, terms.budget_amount_minor, deferred, bills_on_budget,
                                    entity.budget_true_up_periods)
    elif deferred:  # levelized billing ended: what is still deferred is due now
        postings += [(RECEIVABLE, deferred, "budget_true_up"), (BUDGET_DEFERRED, -deferred, "budget_true_up")]
    balanced((account, amount) for account, amount, _ in postings)
    return postings


def budget_postings(charges_minor: int, budget_minor: int, deferred_minor: int, bills_on_budget: int,
                    true_up_periods: int) -> list[tuple[str, int, str]]:
    """Levelized billing: the customer owes the budget amount, the difference waits in ``budget_deferred``;
    every ``true_up_periods``-th bill on budget moves the whole deferred balance back to the receivable."""
    difference = charges_minor - budget_minor
    postings = [(RECEIVABLE, -difference, "budget_deferral"), (BUDGET_DEFERRED, difference, "budget_deferral")]
    if (bills_on_budget + 1) % true_up_periods == 0:
        deferred = deferred_minor + difference
        postings += [(RECEIVABLE, deferred, "budget_true_up"), (BUDGET_DEFERRED, -deferred, "budget_true_up")]
    return postings
