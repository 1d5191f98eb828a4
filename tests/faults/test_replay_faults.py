"""The same blocks twice, out of order, and late after the period was billed; bill runs killed and
started twice at once; a payments file imported twice."""
import random
import signal
import os
import time
from datetime import date, datetime, time as clock
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.corrections import raise_corrections
from billing.lockbox import import_lockbox
from scenarios.harness import start_worker, stop_worker
from simulators.headend import generate
from tests.faults.harness import BILLED_AT, FaultRun, connect, differences, end_state, m2c

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_blocks_twice_out_of_order_then_late_after_billing(base_settings, load, load_and_utility, clean, figures,
                                                          tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_replay", load, redis_db=9, batch_max_messages=500)
    rng = random.Random(11)
    twice = rng.sample(load.messages, len(load.messages) // 5)
    shuffled = load.messages + twice
    rng.shuffle(shuffled)
    run.publish(shuffled)
    worker = start_worker(run.settings, 9460, str(tmp_path / "worker.log"))
    run.wait_for_reads(load.reads, workers=[worker])
    time.sleep(2.0)
    diffs = differences(clean, end_state_after_billing(run, worker))
    # late: a corrected block for a day of the billed period arrives days after the period closed
    utility = load_and_utility[1]
    meter = next(m for m in utility.meters if m.service == "electric")
    zone = ZoneInfo(utility.zone)
    day = date(2026, 11, 3)
    late = [m for m in generate(utility, datetime.combine(day, clock(), zone),
                                datetime.combine(day, clock(6), zone), block_hours=6, seed=99)
            if m.key == meter.meter_no.encode()]
    with connect(run.settings) as conn:
        bills_before = dict(conn.execute("select account_id, total_minor from bills"))
        before = conn.execute("select sum(read_count), sum(quantity) from usage_daily").fetchone()
    worker = start_worker(run.settings, 9461, str(tmp_path / "late.log"))
    run.publish(late)
    deadline = time.monotonic() + 60
    with connect(run.settings) as conn:
        while conn.execute("select sum(quantity) from usage_daily").fetchone()[0] == before[1]:
            assert time.monotonic() < deadline, "the late block never landed"
            time.sleep(0.2)
        stop_worker(worker)
        assert dict(conn.execute("select account_id, total_minor from bills")) == bills_before  # closed bill kept
        assert raise_corrections(conn) == 1
        account = conn.execute("select a.account_no from bill_corrections c join accounts a on a.id = c.account_id "
                               "where c.status = 'open'").fetchone()[0]
    assert account == meter.account_no
    figures.add("20% of blocks published twice, all shuffled; then a late corrected block after billing",
                {"duplicate_blocks": len(twice), "late_blocks": len(late)},
                load.reads, diffs, time.monotonic() - started, {"blocks_shuffled": len(shuffled), "corrections_raised": 1})
    assert diffs == {part: 0 for part in diffs}, diffs


def end_state_after_billing(run: FaultRun, worker) -> dict:
    stop_worker(worker)
    run.close_and_bill()
    return end_state(run.settings)


def test_a_bill_run_killed_mid_way_then_two_started_at_once(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_billrun", load, redis_db=10)
    run.publish()
    worker = start_worker(run.settings, 9470, str(tmp_path / "worker.log"))
    run.wait_for_reads(load.reads, workers=[worker])
    time.sleep(1.0)
    stop_worker(worker)
    with connect(run.settings) as conn:
        from billing.bill_run import find_period
        from vee.gap_fill import fill_period

        fill_period(conn, find_period(conn, run.scenario.utility.cycle_code))
        accounts = conn.execute("select count(*) from accounts").fetchone()[0]
        # a bill run in its own process, small chunks, killed once some bills are written
        child = m2c(run.settings, "bill-run", "--cycle", run.scenario.utility.cycle_code, "--no-estimate",
                    "--chunk", "5", "--metrics-port", "0")
        while conn.execute("select count(*) from bills").fetchone()[0] < accounts // 3:
            assert child.poll() is None, child.stderr.read()
            time.sleep(0.01)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        killed_at = conn.execute("select count(*) from bills").fetchone()[0]
        assert 0 < killed_at < accounts
        # two runs of the same period at once: one bills, the other refuses (or finds nothing left)
        first = m2c(run.settings, "bill-run", "--cycle", run.scenario.utility.cycle_code, "--no-estimate",
                    "--chunk", "5", "--metrics-port", "0")
        second = m2c(run.settings, "bill-run", "--cycle", run.scenario.utility.cycle_code, "--no-estimate",
                     "--chunk", "5", "--metrics-port", "0")
        outcomes = sorted([first.wait(120), second.wait(120)])
        assert outcomes in ([0, 0], [0, 3]), (first.stderr.read(), second.stderr.read())
        statuses = dict(conn.execute("select status, count(*) from bill_runs group by 1"))
        assert statuses.get("interrupted") == 1
    got = end_state(run.settings)
    diffs = differences(clean, got)
    figures.add("bill run killed (SIGKILL) after a third of the bills, then two runs started at once",
                {"bill_run_kills": 1, "concurrent_bill_runs": 2}, load.reads, diffs, time.monotonic() - started)
    assert diffs == {part: 0 for part in diffs}, diffs


def test_a_payments_file_imported_twice_applies_once(base_settings, clean, load, figures):
    started = time.monotonic()
    settings = base_settings.__class__(**{**base_settings.__dict__,
                                          "database_url": base_settings.database_url.rsplit("/", 1)[0] + "/m2c_faults_clean"})
    with connect(settings) as conn:
        bills = conn.execute("select a.account_no, b.total_due_minor from bills b join accounts a on a.id = b.account_id "
                             "where b.total_due_minor > 0 order by b.id limit 200").fetchall()
        text = "reference,received_on,account_no,invoice_no,amount,method\n" + "".join(
            f"TWICE-{n},2026-11-25,{account},,{Decimal(due) / 100},ach\n" for n, (account, due) in enumerate(bills))
        before = conn.execute("select coalesce(sum(amount_minor), 0) from ledger_entries where ledger_account = 'cash'"
                              ).fetchone()[0]
        first = import_lockbox(conn, text, "twice.csv", BILLED_AT)
        second = import_lockbox(conn, text, "twice.csv", BILLED_AT)
        cash = conn.execute("select sum(amount_minor) from ledger_entries where ledger_account = 'cash'").fetchone()[0]
    assert (first.applied, second.applied, second.duplicates) == (len(bills), 0, len(bills))
    assert cash - before == sum(due for _, due in bills)
    figures.add("a lockbox file of 200 payments imported twice", {"payments_replayed": len(bills)}, 0,
                {"payments_applied_twice": second.applied}, time.monotonic() - started)
