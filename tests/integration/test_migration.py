"""Legacy CIS migration on the real PostgreSQL: validation finds every planted problem, the load is one
restartable job (killed and restarted, it ends as a clean load), and the parallel billing run finds
every planted discrepancy and nothing else."""
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal

import psycopg
import pytest

from billing.cycles import create_cycles
from storage.ledger_entries import trial_balance, unbalanced_transactions
from migration.extract import read_extract
from migration.load import ExtractInvalid, check, load
from migration.parallel_run import parallel_run
from migration.report import write_report
from migration.synthetic import make_extract
from storage.tariffs import current_tariffs
from billing.entities import configured_entities

pytestmark = pytest.mark.integration


def m2c(settings, *args, **kwargs):
    return subprocess.run([sys.executable, "-m", "meter2cash.cli", *args], env={**os.environ, **settings.to_env()},
                          capture_output=True, text=True, timeout=300, **kwargs)


@pytest.fixture
def migration_settings(settings):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        create_cycles(conn, 20, settings.utility_zone)
    return settings


def test_validate_reports_every_planted_problem_and_load_refuses(migration_settings, tmp_path):
    planted = make_extract(str(tmp_path / "bad"), meters=20, problems=True, zone=migration_settings.utility_zone)
    with psycopg.connect(migration_settings.database_url, autocommit=True) as conn:
        _, _, problems = check(conn, tmp_path / "bad")
        assert {(p.file, p.code) for p in problems} == planted.problems
        assert all(p.line > 1 for p in problems)  # each with the line that has it
        with pytest.raises(ExtractInvalid):
            load(conn, migration_settings, tmp_path / "bad")
        assert conn.execute("select count(*) from accounts").fetchone()[0] == 0
    run = m2c(migration_settings, "migrate", "validate", str(tmp_path / "bad"))
    assert run.returncode == 2
    assert "meters.csv:" in run.stdout and "meter_on_two_premises" in run.stdout


def test_killed_load_restarts_to_the_same_result_and_parallel_run_finds_each_discrepancy(migration_settings,
                                                                                         tmp_path):
    folder = tmp_path / "extract"
    planted = make_extract(str(folder), meters=30, zone=migration_settings.utility_zone)
    extract = read_extract(folder)

    # kill -9 the load in the middle of the read history; run it again
    process = subprocess.Popen([sys.executable, "-m", "meter2cash.cli", "migrate", "load", str(folder), "--chunk", "3"],
                               env={**os.environ, **migration_settings.to_env()}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    with psycopg.connect(migration_settings.database_url, autocommit=True) as conn:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            row = conn.execute("select reads_done from migration_runs").fetchone()
            if row and row[0] >= 6:
                break
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        interrupted = conn.execute("select status, steps_done, reads_done from migration_runs").fetchone()
        assert interrupted[0] == "running" and "reads" not in interrupted[1] and interrupted[2] >= 6
    again = m2c(migration_settings, "migrate", "load", str(folder))
    assert again.returncode == 0, again.stderr
    assert "loaded" in again.stdout
    assert "already_loaded" in m2c(migration_settings, "migrate", "load", str(folder)).stdout

    with psycopg.connect(migration_settings.database_url, autocommit=True) as conn:
        _, blocks, _ = check(conn, folder)
        # every read once: usage is the read history's sum, per meter
        expected = defaultdict(int)
        for block in blocks:
            expected[block.meter_id] += int(block.values.sum())
        stored = dict(conn.execute("select m.meter_no, sum(b.total) from interval_blocks b join meters m "
                                   "on m.id = b.meter_id group by 1").fetchall())
        assert stored == dict(expected)
        assert conn.execute("select sum(quantity) from usage_daily").fetchone()[0] == sum(expected.values())
        # opening balances once, balanced
        balances = [int(Decimal(r["balance"]) * 100) for r in extract.rows("opening_balances.csv")]
        assert conn.execute("select sum(amount_minor), count(*) from ledger_entries where ledger_account = "
                            "'receivable'").fetchone() == (sum(balances), sum(1 for b in balances if b))
        rows = trial_balance(conn)
        assert sum(debits for _, debits, _ in rows) == sum(credits for _, _, credits in rows)
        assert unbalanced_transactions(conn) == []
        counts = conn.execute("select (select count(*) from accounts), (select count(*) from meters), "
                              "(select count(*) from legacy_bills), (select count(*) from legacy_bill_lines)"
                              ).fetchone()
        assert counts == (len(extract.rows("accounts.csv")), len(extract.rows("meters.csv")),
                          len(extract.rows("bills.csv")), len(extract.rows("bill_lines.csv")))

        run = parallel_run(conn, 3, current_tariffs(conn), configured_entities(migration_settings))
    found = defaultdict(set)
    for bill in run.bills:
        if not bill.matched:
            found[bill.cause].add((bill.account_no, bill.legacy_start))
    assert dict(found) == {cause: places for cause, places in planted.discrepancies.items()}
    assert len(run.bills) == planted.bills
    assert run.matched == planted.bills - sum(len(p) for p in planted.discrepancies.values())

    paths = write_report(run, tmp_path / "report", "USD")
    assert sum(1 for _ in open(paths["bills"])) == planted.bills + 1
    html = paths["html"].read_text()
    assert all(f'id="{cause}"' in html for cause in planted.discrepancies)
    cli = m2c(migration_settings, "migrate", "parallel-run", str(folder), "--out", str(tmp_path / "cli-report"))
    assert cli.returncode == 2 and f"{run.matched} matched" in cli.stdout
