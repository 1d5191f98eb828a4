"""Random sequences of bills, payments, returns, adjustments, cancellations and rebills through the
real write paths on PostgreSQL keep every ledger invariant."""
from datetime import date, datetime, timezone
from decimal import Decimal

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from billing.bill_writer import account_terms, budget_postings, write_bills
from billing.corrections import cancel_bill
from billing.invoice import AccountBill, ServiceCharges
from billing.payments import PaymentIn, receive_payment, return_payment
from billing.entities import load_entities
from billing.postings import account_receivable, adjust, balances
from storage.ledger_entries import trial_balance, unbalanced_transactions
from rating.pricing import PricedLine
from storage.bulk_load import ensure_period

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.fixture
def ledger_db(settings):
    conn = psycopg.connect(settings.database_url, autocommit=True)
    yield conn
    conn.close()


def fresh_accounts(conn, tag: str):
    """Three accounts on a cycle of their own (the third on levelized billing), ten monthly periods."""
    cycle = conn.execute("insert into billing_cycles (code, zone) values (%s, 'UTC') returning id", (tag,)).fetchone()[0]
    periods = [ensure_period(conn, cycle, date(2026, month, 1), date(2026, month + 1, 1)) for month in range(1, 11)]
    accounts = [conn.execute("insert into accounts (account_no, customer_name, billing_cycle_id, zone) "
                             "values (%s, 'c', %s, 'UTC') returning id", (f"{tag}-{n}", cycle)).fetchone()[0]
                for n in range(3)]
    premise = conn.execute("insert into premises (address, zone) values (%s, 'UTC') returning id", (tag,)).fetchone()[0]
    agreements = {a: conn.execute("insert into service_agreements (account_id, premise_id, service, start_date) "
                                  "values (%s, %s, 'water', '2026-01-01') returning id", (a, premise)).fetchone()[0]
                  for a in accounts}
    run = conn.execute("insert into bill_runs (billing_period_id, status) values (%s, 'running') returning id",
                       (periods[0],)).fetchone()[0]
    conn.execute("update accounts set budget_amount_minor = 5000, budget_started_on = '2026-01-01' where id = %s",
                 (accounts[2],))
    return accounts, periods, agreements, run


operation = st.tuples(st.sampled_from(["bill", "pay", "return", "adjust", "cancel", "rebill"]),
                      st.integers(0, 2), st.integers(1, 40_000))


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, min_size=1, max_size=25))
def test_random_sequences_keep_the_ledger_consistent(ledger_db, operations):
    conn = ledger_db
    entities = load_entities()
    tag = f"T{conn.execute('select count(*) from billing_cycles').fetchone()[0]}"
    accounts, periods, agreements, run = fresh_accounts(conn, tag)
    revision = conn.execute("select id from tariff_revisions limit 1").fetchone()[0]
    next_period = {a: 0 for a in accounts}
    payments = []
    for number, (kind, which, amount) in enumerate(operations):
        account = accounts[which]
        if kind in ("bill", "rebill"):
            if kind == "rebill":
                bill = conn.execute("select id, billing_period_id from bills where account_id = %s and "
                                    "status = 'issued' order by id desc limit 1", (account,)).fetchone()
                if bill is None:
                    continue
                cancel_bill(conn, bill[0], "prop", "rebill", NOW)
                period = bill[1]
            else:
                if next_period[account] >= len(periods):
                    continue
                period = periods[next_period[account]]
                next_period[account] += 1
            line = PricedLine("USE", "water use", Decimal(amount), "kgal", None, Decimal(amount) / 100, amount, "v1")
            charges = AccountBill(account, [ServiceCharges(agreements[account], "water", revision, (line,))])
            written = write_bills(conn, run, period, [charges], account_terms(conn, [account], period), entities, NOW)
            assert len(written) == 1
        elif kind == "pay":
            account_no = conn.execute("select account_no from accounts where id = %s", (account,)).fetchone()[0]
            reference = f"{tag}-{number}"
            outcome = receive_payment(conn, PaymentIn("api", reference, Decimal(amount) / 100, date(2026, 11, 1),
                                                      account_no), NOW)
            payments.append(outcome.payment_id)
        elif kind == "return" and payments:
            return_payment(conn, payments.pop(amount % len(payments)), "prop", "NSF", NOW, entities)
        elif kind == "adjust":
            adjust(conn, account, amount if amount % 2 else -amount, "goodwill", "prop", NOW)
        elif kind == "cancel":
            bill = conn.execute("select id from bills where account_id = %s and status = 'issued' "
                                "order by id limit 1", (account,)).fetchone()
            if bill:
                cancel_bill(conn, bill[0], "prop", "wrong", NOW)
    # invariants
    rows = trial_balance(conn)
    assert sum(r[1] for r in rows) == sum(r[2] for r in rows)
    assert unbalanced_transactions(conn) == []
    for account_id, balance in balances(conn).items():
        state = account_receivable(conn, account_id)
        assert state.balance_minor == balance
        assert all(0 <= item.open_minor <= item.amount_minor for item in state.items)
        assert state.credit_minor == 0 or not state.open_items()
    assert conn.execute("select count(*) from (select account_id, billing_period_id from bills where status = 'issued' "
                        "group by 1, 2 having count(*) > 1) d").fetchone()[0] == 0
    for previous, payments_, adjustments, fees, current, budget, total_due, account_id, transaction_id in conn.execute(
            "select previous_balance_minor, payments_minor, adjustments_minor, fees_minor, total_minor, budget_minor, "
            "total_due_minor, account_id, ledger_transaction_id from bills where account_id = any(%s)", (accounts,)):
        assert previous + payments_ + adjustments + fees + current + budget == total_due
        assert total_due == conn.execute(
            "select sum(amount_minor) from ledger_entries where account_id = %s and ledger_account = 'receivable' "
            "and transaction_id <= %s", (account_id, transaction_id)).fetchone()[0]
    # a cancelled bill's postings are fully reversed
    assert conn.execute(
        "select count(*) from (select b.id from bills b join ledger_entries e on e.bill_id = b.id "
        "where b.status = 'cancelled' and e.entry_type in ('bill', 'budget_deferral', 'budget_true_up', 'bill_reversal') "
        "group by b.id having sum(e.amount_minor) filter (where e.ledger_account = 'receivable') <> 0) c"
    ).fetchone()[0] == 0


def test_budget_billing_defers_the_difference_and_trues_up():
    # charges 80.00 against a 50.00 budget: 30.00 deferred; the 3rd bill on budget trues up everything
    assert budget_postings(8000, 5000, 0, 0, 3) == [("receivable", -3000, "budget_deferral"),
                                                     ("budget_deferred", 3000, "budget_deferral")]
    postings = budget_postings(2000, 5000, 3000, 2, 3)
    assert postings[:2] == [("receivable", 3000, "budget_deferral"), ("budget_deferred", -3000, "budget_deferral")]
    assert postings[2:] == [("receivable", 0, "budget_true_up"), ("budget_deferred", 0, "budget_true_up")]
    postings = budget_postings(9000, 5000, 1000, 5, 6)
    assert postings[2:] == [("receivable", 5000, "budget_true_up"), ("budget_deferred", -5000, "budget_true_up")]
