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
from billing.policy import Entity, entity_for
from storage.copy_text import copy_rows


@dataclass(frozen=True)
class AccountTerms:
    """What the bill run needs to know about an account beyond its usage."""
    account_id: int
    billing_entity: str
    budget_amount_minor: int | None
    budget_started_on: object | None
    rebill_of: int | None  # the latest cancelled bill of the period, if any


def account_terms(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> dict[int, AccountTerms]:
    rows = conn.execute(
        "select a.id, a.billing_entity, a.budget_amount_minor, a.budget_started_on, "
        " (select max(b.id) from bills b where b.account_id = a.id and b.billing_period_id = %s "
        "  and b.status = 'cancelled') "
        "from accounts a where a.id = any(%s)", (billing_period_id, account_ids)).fetchall()
    return {r[0]: AccountTerms(*r) for r in rows}


def write_bills(conn: psycopg.Connection, run_id: int, billing_period_id: int, bills: list[AccountBill],
                terms: dict[int, AccountTerms], entities: dict[str, Entity],
                issued_at: datetime) -> dict[int, tuple[int, int]]:
    """Returns {account_id: (bill_id, current charges)} of the bills written; a bill that exists already
    (a concurrent or earlier run) is skipped with its lines and ledger entries."""
    if not bills:
        return {}
    with conn.transaction():
        account_ids = sorted(b.account_id for b in bills)
        conn.execute("select id from accounts where id = any(%s) order by id for update", (account_ids,))
        rows = conn.execute(
            "insert into bills (account_id, billing_period_id, bill_run_id, period_start, period_end, zone, "
            "currency, total_minor, issued_at, estimated, billing_entity, kind, rebill_of) "
            "select t.account_id, %s, %s, p.period_start, p.period_end, a.zone, a.currency, t.total, %s, t.estimated, "
            "       a.billing_entity, case when t.rebill_of is null then 'regular' else 'rebill' end, t.rebill_of "
            "from unnest(%s::int8[], %s::int8[], %s::bool[], %s::int8[]) as t(account_id, total, estimated, rebill_of) "
            "join accounts a on a.id = t.account_id join billing_periods p on p.id = %s "
            "on conflict (account_id, billing_period_id) where status = 'issued' do nothing "
            "returning id, account_id",
            (billing_period_id, run_id, issued_at, [b.account_id for b in bills], [b.total_minor for b in bills],
             [b.estimated for b in bills], [terms[b.account_id].rebill_of for b in bills],
             billing_period_id)).fetchall()
        bill_id = {account_id: bill_id for bill_id, account_id in rows}
        written = [b for b in bills if b.account_id in bill_id]
        if not written:
            return {}
        copy_rows(conn, "copy bill_lines (bill_id, line_no, service_agreement_id, service, code, description, "
                  "quantity, unit, price, amount_precise, amount_minor, tariff_version, tariff_revision_id, kind) "
                  "from stdin",
                  ((bill_id[bill.account_id], number, *line) for bill in written
                   for number, line in enumerate(bill.line_rows(), start=1)))
        copy_rows(conn, "copy bill_usage (bill_id, service_agreement_id, service, quantity, unit, power_of_ten, "
                  "read_count, estimated_count, first_day, end_day) from stdin",
                  ((bill_id[bill.account_id], *row) for bill in written for row in bill.usage_rows()))
        budget = _budget_state(conn, [b.account_id for b in written if terms[b.account_id].budget_amount_minor])
        transaction_ids = [r[0] for r in conn.execute(
            "select nextval('ledger_transaction_ids') from generate_series(1, %s)", (len(written),)).fetchall()]
        entries = []
        for transaction_id, bill in zip(transaction_ids, written):
            account_terms_ = terms[bill.account_id]
            postings = [(account, amount, "bill") for account, amount in bill.ledger_postings()]
            if account_terms_.budget_amount_minor:
                entity = entity_for(entities, account_terms_.billing_entity)
                postings += budget_postings(bill.total_minor, account_terms_.budget_amount_minor,
                                            *budget.get(bill.account_id, (0, 0)), entity.budget_true_up_periods)
            balanced((account, amount) for account, amount, _ in postings)
            entries += [(transaction_id, bill.account_id, ledger_account, amount, entry_type, bill_id[bill.account_id],
                         issued_at) for ledger_account, amount, entry_type in postings if amount]
        copy_rows(conn, "copy ledger_entries (transaction_id, account_id, ledger_account, amount_minor, entry_type, "
                  "bill_id, posted_at) from stdin", entries)
        conn.execute("update bills b set ledger_transaction_id = t.transaction_id "
                     "from unnest(%s::int8[], %s::int8[]) as t(bill_id, transaction_id) where b.id = t.bill_id",
                     ([bill_id[b.account_id] for b in written], transaction_ids))
        write_statements(conn, [bill_id[b.account_id] for b in written])
        trued_up = [(old, bill_id[b.account_id]) for b in written for old in b.trued_up()]
        if trued_up:
            conn.execute("update bills b set trued_up_by = t.new from unnest(%s::int8[], %s::int8[]) as t(old, new) "
                         "where b.id = t.old and b.trued_up_by is null",
                         ([t[0] for t in trued_up], [t[1] for t in trued_up]))
    return {b.account_id: (bill_id[b.account_id], b.total_minor) for b in written}


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


def _budget_state(conn: psycopg.Connection, account_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(deferred balance, bills issued since the budget started) per account on levelized billing."""
    if not account_ids:
        return {}
    rows = conn.execute(
        "select a.id, coalesce((select sum(amount_minor) from ledger_entries e where e.account_id = a.id "
        "  and e.ledger_account = %s), 0), "
        " (select count(*) from bills b where b.account_id = a.id and b.status = 'issued' "
        "  and b.period_start >= a.budget_started_on) "
        "from accounts a where a.id = any(%s)", (BUDGET_DEFERRED, account_ids)).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


_STATEMENT_SQL = """
update bills b set previous_balance_minor = s.previous, payments_minor = s.payments,
       adjustments_minor = s.adjustments, fees_minor = s.fees, budget_minor = s.budget, total_due_minor = s.total_due
from (
  select b.id,
    coalesce(sum(e.amount_minor) filter (where e.transaction_id <= l.last), 0) as previous,
    coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last and e.transaction_id < b.ledger_transaction_id
                                         and e.entry_type in ('payment', 'payment_return')), 0) as payments,
    coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last and e.transaction_id < b.ledger_transaction_id
                                         and e.entry_type = 'fee'), 0) as fees,
    coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last and e.transaction_id < b.ledger_transaction_id
                                         and e.entry_type not in ('payment', 'payment_return', 'fee')), 0) as adjustments,
    coalesce(sum(e.amount_minor) filter (where e.transaction_id = b.ledger_transaction_id
                                         and e.entry_type in ('budget_deferral', 'budget_true_up')), 0) as budget,
    coalesce(sum(e.amount_minor), 0) as total_due
  from bills b
  cross join lateral (select coalesce(max(p.ledger_transaction_id), 0) as last from bills p
                      where p.account_id = b.account_id and p.ledger_transaction_id < b.ledger_transaction_id) l
  join ledger_entries e on e.account_id = b.account_id and e.ledger_account = 'receivable'
       and e.transaction_id <= b.ledger_transaction_id
  where b.id = any(%s)
  group by b.id
) s where s.id = b.id
"""


def write_statements(conn: psycopg.Connection, bill_ids: list[int]) -> None:
    """Each bill's statement from the ledger alone: previous balance (everything up to the previous
    bill), payments, fees and adjustments since, the budget deferral, and the total due; they add up
    to the total due by construction (current charges are the bill's own ``bill`` postings)."""
    conn.execute(_STATEMENT_SQL, (bill_ids,))
