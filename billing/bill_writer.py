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
from storage.copy_text import NULL, bool_array, copy_rows, escaper, int_array


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
        "from accounts a where a.id = any(%s::int8[])", (billing_period_id, int_array(account_ids))).fetchall()
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
        totals = {b.account_id: b.total_minor for b in bills}
        conn.execute("select id from accounts where id = any(%s::int8[]) order by id for update",
                     (int_array(account_ids),))
        basis = _statement_basis(conn, account_ids)
        budget = _budget_state(conn, [b.account_id for b in bills if terms[b.account_id].budget_started_on])
        transaction_ids = [r[0] for r in conn.execute(
            "select nextval('ledger_transaction_ids') from generate_series(1, %s)", (len(bills),)).fetchall()]
        postings_of, statements = {}, []
        for transaction_id, bill in zip(transaction_ids, bills):
            postings = _postings(bill, terms[bill.account_id], budget.get(bill.account_id, (0, 0)), entities)
            postings_of[bill.account_id] = (transaction_id, postings)
            previous, payments, adjustments, fees = basis[bill.account_id]
            budget_minor = sum(amount for account, amount, kind in postings
                               if account == RECEIVABLE and kind != "bill")
            statements.append((previous, payments, adjustments, fees, budget_minor,
                               previous + payments + adjustments + fees + totals[bill.account_id] + budget_minor))
        rows = conn.execute(
            "insert into bills (account_id, billing_period_id, bill_run_id, period_start, period_end, zone, "
            "currency, total_minor, issued_at, estimated, billing_entity, kind, rebill_of, ledger_transaction_id, "
            "previous_balance_minor, payments_minor, adjustments_minor, fees_minor, budget_minor, total_due_minor) "
            "select t.account_id, %s, %s, p.period_start, p.period_end, a.zone, a.currency, t.total, %s, t.estimated, "
            "       a.billing_entity, case when t.rebill_of is null then 'regular' else 'rebill' end, t.rebill_of, "
            "       t.transaction_id, t.previous, t.payments, t.adjustments, t.fees, t.budget, t.total_due "
            "from unnest(%s::int8[], %s::int8[], %s::bool[], %s::int8[], %s::int8[], %s::int8[], %s::int8[], "
            "            %s::int8[], %s::int8[], %s::int8[], %s::int8[]) "
            "  as t(account_id, total, estimated, rebill_of, transaction_id, previous, payments, adjustments, fees, "
            "       budget, total_due) "
            "join accounts a on a.id = t.account_id join billing_periods p on p.id = %s "
            "on conflict (account_id, billing_period_id) where status = 'issued' do nothing "
            "returning id, account_id",
            (billing_period_id, run_id, issued_at, int_array([b.account_id for b in bills]),
             int_array([totals[b.account_id] for b in bills]), bool_array([b.estimated for b in bills]),
             int_array([terms[b.account_id].rebill_of for b in bills]), int_array(transaction_ids),
             *(int_array([s[column] for s in statements]) for column in range(6)), billing_period_id)).fetchall()
        bill_id = {account_id: bill_id for bill_id, account_id in rows}
        written = [b for b in bills if b.account_id in bill_id]
        if not written:
            return {}
        escape = escaper()
        copy_rows(conn, "copy bill_lines (bill_id, line_no, service_agreement_id, service, code, description, "
                  "quantity, unit, price, amount_precise, amount_minor, tariff_version, tariff_revision_id, kind) "
                  "from stdin", data="".join([
                      f"{bill_id[bill.account_id]}\t{number}\t{agreement}\t{service}\t{escape(code)}\t"
                      f"{escape(description)}\t{quantity}\t{escape(unit)}\t{NULL if price is None else price}\t"
                      f"{amount}\t{minor}\t{escape(version)}\t{revision}\t{kind}\n"
                      for bill in written for number, (agreement, service, code, description, quantity, unit, price,
                                                       amount, minor, version, revision, kind)
                      in enumerate(bill.line_rows(), start=1)]).encode())
        copy_rows(conn, "copy bill_usage (bill_id, service_agreement_id, service, quantity, unit, power_of_ten, "
                  "read_count, estimated_count, first_day, end_day) from stdin", data="".join([
                      f"{bill_id[bill.account_id]}\t{agreement}\t{service}\t{quantity}\t{escape(unit)}\t{power}\t"
                      f"{reads}\t{estimated}\t{first}\t{end}\n"
                      for bill in written for agreement, service, quantity, unit, power, reads, estimated, first, end
                      in bill.usage_rows()]).encode())
        posted = issued_at.isoformat()
        copy_rows(conn, "copy ledger_entries (transaction_id, account_id, ledger_account, amount_minor, entry_type, "
                  "bill_id, posted_at) from stdin", data="".join([
                      f"{postings_of[b.account_id][0]}\t{b.account_id}\t{escape(account)}\t{amount}\t{kind}\t"
                      f"{bill_id[b.account_id]}\t{posted}\n"
                      for b in written for account, amount, kind in postings_of[b.account_id][1] if amount]).encode())
        trued_up = [(old, bill_id[b.account_id]) for b in written for old in b.trued_up()]
        if trued_up:
            conn.execute("update bills b set trued_up_by = t.new from unnest(%s::int8[], %s::int8[]) as t(old, new) "
                         "where b.id = t.old and b.trued_up_by is null",
                         (int_array([t[0] for t in trued_up]), int_array([t[1] for t in trued_up])))
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


def _budget_state(conn: psycopg.Connection, account_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(deferred balance, bills issued since the budget started) per account on levelized billing."""
    if not account_ids:
        return {}
    rows = conn.execute(
        "select a.id, coalesce((select sum(amount_minor) from ledger_entries e where e.account_id = a.id "
        "  and e.ledger_account = %s), 0), "
        " (select count(*) from bills b where b.account_id = a.id and b.status = 'issued' "
        "  and b.period_start >= a.budget_started_on) "
        "from accounts a where a.id = any(%s::int8[])", (BUDGET_DEFERRED, int_array(account_ids))).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


_STATEMENT_BASIS = """
select l.account_id,
  coalesce(sum(e.amount_minor) filter (where e.transaction_id <= l.last), 0),
  coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last
                                       and e.entry_type in ('payment', 'payment_return', 'refund')), 0),
  coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last
                                       and e.entry_type not in ('payment', 'payment_return', 'refund', 'fee')), 0),
  coalesce(sum(e.amount_minor) filter (where e.transaction_id > l.last and e.entry_type = 'fee'), 0)
from (select t.account_id, coalesce((select max(b.ledger_transaction_id) from bills b where b.account_id = t.account_id),
                                    0) as last
      from unnest(%s::int8[]) as t(account_id)) l
left join ledger_entries e on e.account_id = l.account_id and e.ledger_account = 'receivable'
group by l.account_id
"""


def _statement_basis(conn: psycopg.Connection, account_ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    """Per account (locked): the receivable up to its previous bill, and the payments, adjustments and fees
    posted since. A bill's statement adds its own postings: previous balance + payments + adjustments +
    fees + current charges + budget billing = total due, the balance right after the bill."""
    return {r[0]: tuple(int(v) for v in r[1:]) for r in conn.execute(_STATEMENT_BASIS, (int_array(account_ids),)).fetchall()}
