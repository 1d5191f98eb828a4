"""The database failing in ways that are not an outage - read-only, statement timeouts, a held row lock -
mid-ingest of the load: no read is dead-lettered, and the end state equals the clean run's."""
import time
import urllib.request
from contextlib import contextmanager

import psycopg
import pytest

from meter2cash.scenario import start_worker
from tests.faults.harness import FaultRun
from tests.faults.test_worker_faults import compare, finish

pytestmark = [pytest.mark.faults, pytest.mark.slow]


@contextmanager
def server_setting(base_settings, name: str, value: str):
    """``name = value`` for every session of the server (as an operator's ALTER SYSTEM would), reset after."""
    with psycopg.connect(base_settings.database_url, autocommit=True) as admin:
        # this session's own settings win over the server's: it can always undo what it set
        admin.execute("set default_transaction_read_only = off")
        admin.execute("set statement_timeout = 0")
        try:
            admin.execute(f"alter system set {name} = '{value}'")
            admin.execute("select pg_reload_conf()")
            yield
        finally:
            admin.execute(f"alter system reset {name}")
            admin.execute("select pg_reload_conf()")


def retries(port: int, sqlstate: str) -> float:
    """``m2c_db_retries_total`` of one SQLSTATE on a worker's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("m2c_db_retries_total{") and f'sqlstate="{sqlstate}"' in line)


def test_database_read_only_for_20_seconds_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_readonly", load, redis_db=12, batch_max_messages=500)
    worker = start_worker(run.settings, 9470, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(0.3 * load.reads), workers=[worker])
    with server_setting(base_settings, "default_transaction_read_only", "on"):
        time.sleep(20)
        assert worker.poll() is None, "the worker waits for the database to take writes again"
    run.wait_for_reads(load.reads, workers=[worker])
    waited = retries(9470, "25006")
    finish(run, [worker])
    assert waited > 0  # the worker met the read-only database and said so on /metrics
    assert run.scenario.dlq_count() == 0  # a database error is never a property of a message
    compare(run, clean, figures, "database read-only (default_transaction_read_only) for 20 s at 30%",
            {"read_only_periods": 1}, started, {"read_only_seconds": 20, "retries_25006_on_metrics": int(waited)})


def test_statement_timeout_storm_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_timeouts", load, redis_db=13, batch_max_messages=500)
    worker = start_worker(run.settings, 9471, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(0.2 * load.reads), workers=[worker])
    storms = 0
    for _ in range(4):  # 4 storms of 4 s in which nearly every batch statement is cancelled
        with server_setting(base_settings, "statement_timeout", "2ms"):
            time.sleep(4)
        storms += 1
        time.sleep(2)
        assert worker.poll() is None
    run.wait_for_reads(load.reads, workers=[worker])
    waited = retries(9471, "57014")
    finish(run, [worker])
    assert waited > 0
    assert run.scenario.dlq_count() == 0
    compare(run, clean, figures, "statement_timeout storms (2 ms, 4 times 4 s) from 20%",
            {"timeout_storms": storms}, started, {"retries_57014_on_metrics": int(waited)})


def test_a_day_row_locked_for_30_seconds_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_lock", load, redis_db=14, batch_max_messages=500)
    worker = start_worker(run.settings, 9472, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(0.3 * load.reads), workers=[worker])
    with psycopg.connect(run.settings.database_url) as holder:
        # the rows of the newest day stored so far: the blocks still to come for that day need them
        locked = holder.execute(
            "select count(*) from (select 1 from interval_blocks where local_day = "
            "(select max(local_day) from interval_blocks) for update) as held").fetchone()[0]
        time.sleep(30)
        assert worker.poll() is None
        holder.rollback()
    run.wait_for_reads(load.reads, workers=[worker])
    waited = retries(9472, "55P03")
    finish(run, [worker])
    assert locked > 0 and waited > 0  # the worker's lock_timeout turned the wait into retries on /metrics
    assert run.scenario.dlq_count() == 0
    compare(run, clean, figures, "the newest day's rows locked (SELECT FOR UPDATE) for 30 s at 30%",
            {"row_locks_held": 1}, started, {"rows_locked": int(locked), "retries_55P03_on_metrics": int(waited)})
