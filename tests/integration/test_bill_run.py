"""Bill runs on the real PostgreSQL: bills from stored usage, ledger balanced, never twice."""
import threading

import psycopg
import pytest

from billing.bill_chunk import price_accounts
from billing.bill_run import find_period, run_bill_run
from storage.bill_runs import _BILL_RUN_LOCK
from billing.bill_workers import WorkerProcesses, chunk_billing
from billing.errors import BillRunBusy
from billing.invoice import build_account_bill
from billing.metrics import BillRunMetrics
from billing.entities import load_entities
from billing.pricing_inputs import interval_inputs, intervals_needed
from simulators.headend import generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs
from storage.usage import usage_for
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def billed_period(settings):
    utility = make_utility(meters=40, seed=21, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    processor = BatchProcessor(settings, conn, cache=None)
    messages = [RawMessage(m.value) for m in generate(utility, block_hours=24)]
    for start in range(0, len(messages), 500):
        processor.process(messages[start:start + 500])
    yield conn, find_period(conn, utility.cycle_code), utility
    conn.close()


def test_bill_run_bills_each_account_once_with_a_balanced_ledger(billed_period):
    conn, period_id, utility = billed_period
    tariffs = current_tariffs(conn)
    metrics = BillRunMetrics()
    seen = []
    first = run_bill_run(conn, period_id, tariffs, metrics=metrics, progress=lambda done, total: seen.append(done))
    assert first.accounts_billed == len(utility.accounts) and not first.accounts_held
    value = metrics.registry.get_sample_value
    assert value("m2c_bill_run_accounts_total", {"outcome": "billed"}) == len(utility.accounts)
    assert value("m2c_billed_minor_units_total") == first.total_minor
    assert value("m2c_bill_run_progress_ratio") == 1.0 and seen[-1] == len(utility.accounts)
    assert value("m2c_bill_run_last_success_timestamp_seconds") > 0
    bills = conn.execute("select count(*), sum(total_minor) from bills").fetchone()
    assert bills == (len(utility.accounts), first.total_minor)
    # every bill is the sum of its lines; one line set per service of the account
    mismatched = conn.execute(
        "select b.id from bills b join bill_lines l on l.bill_id = b.id group by b.id, b.total_minor "
        "having sum(l.amount_minor) <> b.total_minor").fetchall()
    assert mismatched == []
    services = conn.execute("select count(distinct (bill_id, service_agreement_id)) from bill_lines").fetchone()[0]
    assert services == len(utility.meters)
    # double entry: every transaction balances, receivable equals the bills
    unbalanced = conn.execute("select transaction_id from ledger_entries group by 1 "
                              "having sum(amount_minor) <> 0").fetchall()
    assert unbalanced == []
    receivable = conn.execute("select sum(amount_minor) from ledger_entries "
                              "where ledger_account = 'receivable'").fetchone()[0]
    assert receivable == first.total_minor
    assert conn.execute("select closed_at is not null from billing_periods where id = %s",
                        (period_id,)).fetchone()[0]

    again = run_bill_run(conn, period_id, tariffs)
    assert again.accounts_billed == 0 and again.accounts_already_billed == len(utility.accounts)
    assert conn.execute("select count(*) from bills").fetchone()[0] == len(utility.accounts)
    assert conn.execute("select count(*) from ledger_entries where entry_type = 'bill'").fetchone()[0] == \
        len(utility.accounts) + len(utility.meters)


def test_a_second_bill_run_of_the_same_period_is_refused_while_one_runs(billed_period, settings):
    conn, period_id, _ = billed_period
    with psycopg.connect(settings.database_url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s, %s)", (_BILL_RUN_LOCK, period_id))
        with pytest.raises(BillRunBusy):
            run_bill_run(conn, period_id, current_tariffs(conn))
    assert conn.execute("select count(*) from bills").fetchone()[0] == 0


def test_concurrent_bill_runs_never_double_bill(billed_period, settings):
    conn, period_id, utility = billed_period
    outcomes = []

    def run():
        with psycopg.connect(settings.database_url, autocommit=True) as own:
            try:
                outcomes.append(run_bill_run(own, period_id, current_tariffs(own)).accounts_billed)
            except BillRunBusy:
                outcomes.append("busy")

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(o for o in outcomes if o != "busy") == len(utility.accounts)
    assert conn.execute("select count(*) from bills").fetchone()[0] == len(utility.accounts)


def test_worker_processes_bill_exactly_what_the_accounts_price_to(billed_period):
    conn, period_id, utility = billed_period
    tariffs = current_tariffs(conn)
    accounts = [r[0] for r in conn.execute("select id from accounts order by id")]
    priced = price_accounts(conn, period_id, accounts, tariffs, load_entities())
    expected = {bill.account_id: bill.total_minor for bill in priced.bills}
    assert len(expected) == len(accounts)
    billing = chunk_billing(conn, 2, 3, tariffs, {})
    assert isinstance(billing, WorkerProcesses)  # more than one chunk and worker: processes
    billing.close()
    seen = []
    result = run_bill_run(conn, period_id, tariffs, workers=2, chunk_accounts=3,
                          progress=lambda done, total: seen.append(done))
    assert result.accounts_billed == len(accounts) and not result.accounts_failed
    assert seen == sorted(seen) and seen[-1] == len(accounts) and len(seen) == -(-len(accounts) // 3)
    assert dict(conn.execute("select account_id, total_minor from bills")) == expected
    assert sorted(result.bill_ids) == [r[0] for r in conn.execute("select id from bills order by id")]
    recorded = conn.execute("select count(*), count(distinct account_id) from bill_run_accounts "
                            "where bill_run_id = %s and status = 'billed'", (result.bill_run_id,)).fetchone()
    assert recorded == (len(accounts), len(accounts))
    assert conn.execute("select count(*) from (select transaction_id from ledger_entries group by 1 "
                        "having sum(amount_minor) <> 0) t").fetchone()[0] == 0


def test_ledger_entries_are_immutable(billed_period):
    conn, period_id, _ = billed_period
    run_bill_run(conn, period_id, current_tariffs(conn))
    with pytest.raises(psycopg.errors.RaiseException):
        conn.execute("update ledger_entries set amount_minor = 0")
    with pytest.raises(psycopg.errors.RaiseException):
        conn.execute("delete from bills")


def test_a_bill_run_records_every_account_and_a_killed_run_is_marked_interrupted(billed_period):
    conn, period_id, utility = billed_period
    # a run that died while running (its process killed) leaves its row 'running'
    dead = conn.execute("insert into bill_runs (billing_period_id, status) values (%s, 'running') returning id",
                        (period_id,)).fetchone()[0]
    result = run_bill_run(conn, period_id, current_tariffs(conn))
    assert conn.execute("select status from bill_runs where id = %s", (dead,)).fetchone() == ("interrupted",)
    recorded = conn.execute("select count(*), count(bill_id) from bill_run_accounts where bill_run_id = %s",
                            (result.bill_run_id,)).fetchone()
    assert recorded == (len(utility.accounts), result.accounts_billed)
    again = run_bill_run(conn, period_id, current_tariffs(conn))
    assert conn.execute("select status, count(*) from bill_run_accounts where bill_run_id = %s group by 1",
                        (again.bill_run_id,)).fetchall() == [("already_billed", len(utility.accounts))]


def test_time_of_use_bills_from_hourly_sums_equal_bills_from_every_interval(billed_period):
    conn, period_id, utility = billed_period
    tariffs = current_tariffs(conn)
    accounts = [r[0] for r in conn.execute("select id from accounts order by id")]
    usages = usage_for(conn, [(a, period_id) for a in accounts])
    summaries, intervals = interval_inputs(conn, usages, tariffs)
    time_of_use = {u.service_agreement_id for u in usages if u.tariff_code == "E-TOU"}
    assert time_of_use and set(summaries) == time_of_use and not intervals
    every_interval = intervals_needed(conn, usages, tariffs)
    assert set(every_interval) == time_of_use
    for account_id in accounts:
        mine = [u for u in usages if u.account_id == account_id]
        hourly = build_account_bill(account_id, mine, tariffs, summaries=summaries)
        exact = build_account_bill(account_id, mine, tariffs, every_interval)
        assert hourly.line_rows() == exact.line_rows()
