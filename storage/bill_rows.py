"""A bill run's writes: bills, their lines, the usage they priced and their ledger entries, by COPY
and array statements (one round trip each per chunk); and what the writer reads first (the accounts'
terms, statement basis and levelized-billing state), with the chunk's account rows locked."""
from __future__ import annotations

from datetime import date, datetime

import psycopg

from storage.copy_text import NULL, bool_array, copy_rows, escaper, int_array


def account_terms(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> list[tuple]:
    """(id, billing entity, budget amount, budget started on, latest cancelled bill of the period)."""
    return conn.execute(
        "select a.id, a.billing_entity, a.budget_amount_minor, a.budget_started_on, "
        " (select max(b.id) from bills b where b.account_id = a.id and b.billing_period_id = %s "
        "  and b.status = 'cancelled') "
        "from accounts a where a.id = any(%s::int8[])", (billing_period_id, int_array(account_ids))).fetchall()


def lock_accounts(conn: psycopg.Connection, account_ids: list[int]) -> None:
    """Lock the accounts' rows, in id order, for the transaction."""
    conn.execute("select id from accounts where id = any(%s::int8[]) order by id for update", (int_array(account_ids),))


def transaction_ids(conn: psycopg.Connection, count: int) -> list[int]:
    return [r[0] for r in conn.execute("select nextval('ledger_transaction_ids') from generate_series(1, %s)",
                                       (count,)).fetchall()]


def budget_state(conn: psycopg.Connection, account_ids: list[int], deferred_account: str) -> dict[int, tuple[int, int]]:
    """(deferred balance, bills issued since the budget started) per account on levelized billing."""
    if not account_ids:
        return {}
    rows = conn.execute(
        "select a.id, coalesce((select sum(amount_minor) from ledger_entries e where e.account_id = a.id "
        "  and e.ledger_account = %s), 0), "
        " (select count(*) from bills b where b.account_id = a.id and b.status = 'issued' "
        "  and b.period_start >= a.budget_started_on) "
        "from accounts a where a.id = any(%s::int8[])", (deferred_account, int_array(account_ids))).fetchall()
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




def statement_basis(conn: psycopg.Connection, account_ids: list[int]) -> dict[int, tuple[int, int, int, int]]:
    """Per account (locked): the receivable up to its previous bill, and the payments, adjustments and fees
    posted since."""
    return {r[0]: tuple(int(v) for v in r[1:]) for r in conn.execute(_STATEMENT_BASIS, (int_array(account_ids),)).fetchall()}


def insert_bills(conn: psycopg.Connection, run_id: int, billing_period_id: int, issued_at: datetime,
                 account_ids: list[int], totals: list[int], estimated: list[bool], rebill_of: list[int | None],
                 transaction_ids_: list[int], statements: list[tuple],
                 final: tuple[int, date, date] | None = None) -> dict[int, int]:
    """Insert one issued bill per account (statements: previous, payments, adjustments, fees, budget,
    total due); an account with an issued bill for the period already is skipped. ``final`` (agreement,
    first day, end day) makes the one bill the agreement's final bill, of those days (an agreement
    with an issued final bill already is skipped). Returns {account id: bill id} of the bills inserted."""
    if final is not None:
        return _insert_final(conn, run_id, billing_period_id, issued_at, account_ids[0], totals[0], estimated[0],
                             transaction_ids_[0], statements[0], final)
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
        "on conflict (account_id, billing_period_id) where status = 'issued' and kind <> 'final' do nothing "
        "returning id, account_id",
        (billing_period_id, run_id, issued_at, int_array(account_ids), int_array(totals), bool_array(estimated),
         int_array(rebill_of), int_array(transaction_ids_),
         *(int_array([s[column] for s in statements]) for column in range(6)), billing_period_id)).fetchall()
    return {account_id: bill_id for bill_id, account_id in rows}


def _insert_final(conn: psycopg.Connection, run_id: int, billing_period_id: int, issued_at: datetime, account_id: int,
                  total: int, estimated: bool, transaction_id: int, statement: tuple,
                  final: tuple[int, date, date]) -> dict[int, int]:
    agreement_id, first_day, end_day = final
    row = conn.execute(
        "insert into bills (account_id, billing_period_id, bill_run_id, period_start, period_end, zone, currency, "
        "total_minor, issued_at, estimated, billing_entity, kind, final_agreement_id, ledger_transaction_id, "
        "previous_balance_minor, payments_minor, adjustments_minor, fees_minor, budget_minor, total_due_minor) "
        "select a.id, %s, %s, %s, %s, a.zone, a.currency, %s, %s, %s, a.billing_entity, 'final', %s, %s, "
        "%s, %s, %s, %s, %s, %s from accounts a where a.id = %s "
        "on conflict (final_agreement_id) where status = 'issued' do nothing returning id",
        (billing_period_id, run_id, first_day, end_day, total, issued_at, estimated, agreement_id, transaction_id,
         *statement, account_id)).fetchone()
    return {} if row is None else {account_id: row[0]}


def copy_lines(conn: psycopg.Connection, lines: list[tuple]) -> None:
    """(bill id, line no, agreement, service, code, description, quantity, unit, price, amount, minor,
    tariff version, revision, kind) rows into ``bill_lines``."""
    escape = escaper()
    copy_rows(conn, "copy bill_lines (bill_id, line_no, service_agreement_id, service, code, description, "
              "quantity, unit, price, amount_precise, amount_minor, tariff_version, tariff_revision_id, kind) "
              "from stdin", data="".join([
                  f"{bill}\t{number}\t{agreement}\t{service}\t{escape(code)}\t"
                  f"{escape(description)}\t{quantity}\t{escape(unit)}\t{NULL if price is None else price}\t"
                  f"{amount}\t{minor}\t{escape(version)}\t{revision}\t{kind}\n"
                  for bill, number, agreement, service, code, description, quantity, unit, price, amount, minor,
                  version, revision, kind in lines]).encode())


def copy_usage(conn: psycopg.Connection, usage: list[tuple]) -> None:
    """(bill id, agreement, service, quantity, unit, power of ten, reads, estimated, first day, end day)."""
    escape = escaper()
    copy_rows(conn, "copy bill_usage (bill_id, service_agreement_id, service, quantity, unit, power_of_ten, "
              "read_count, estimated_count, first_day, end_day) from stdin", data="".join([
                  f"{bill}\t{agreement}\t{service}\t{quantity}\t{escape(unit)}\t{power}\t"
                  f"{reads}\t{estimated}\t{first}\t{end}\n"
                  for bill, agreement, service, quantity, unit, power, reads, estimated, first, end in usage]).encode())


def copy_entries(conn: psycopg.Connection, entries: list[tuple], posted_at: datetime) -> None:
    """(transaction id, account id, ledger account, amount minor, entry type, bill id) into ``ledger_entries``."""
    escape = escaper()
    posted = posted_at.isoformat()
    copy_rows(conn, "copy ledger_entries (transaction_id, account_id, ledger_account, amount_minor, entry_type, "
              "bill_id, posted_at) from stdin", data="".join([
                  f"{transaction}\t{account_id}\t{escape(account)}\t{amount}\t{kind}\t{bill}\t{posted}\n"
                  for transaction, account_id, account, amount, kind, bill in entries]).encode())


def mark_trued_up(conn: psycopg.Connection, pairs: list[tuple[int, int]]) -> None:
    """(old bill, new bill): the old bill's estimate was trued up by the new one (once)."""
    if pairs:
        conn.execute("update bills b set trued_up_by = t.new from unnest(%s::int8[], %s::int8[]) as t(old, new) "
                     "where b.id = t.old and b.trued_up_by is null",
                     (int_array([p[0] for p in pairs]), int_array([p[1] for p in pairs])))
