"""The database failing in ways that are not an outage - read-only, statement timeouts, a held row lock -
mid-ingest of the load: no read is dead-lettered, and the end state equals the clean run's."""
import time
import urllib.request
from contextlib import contextmanager

import psycopg
import pytest

from scenarios.harness import start_worker
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


def streaming(base_settings, load, name: str, redis_db: int, port: int, tmp_path, share: float):
    """A fault run with one worker, the load published, and ``share`` of it stored."""
    run = FaultRun(base_settings, name, load, redis_db=redis_db, batch_max_messages=500)
    worker = start_worker(run.settings, port, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(share * load.reads), workers=[worker])
    return run, worker


def waited_out(run, worker, port: int, sqlstate: str) -> float:
    """The rest of the load stored, the cycle billed; the worker's retries of ``sqlstate`` (some), and
    nothing dead-lettered: a database error is never a property of a message."""
    run.wait_for_reads(run.load.reads, workers=[worker])
    waited = retries(port, sqlstate)
    finish(run, [worker])
    assert waited > 0, f"the worker met {sqlstate} and said so on /metrics"
    assert run.scenario.dlq_count() == 0
    return waited


def test_database_read_only_for_20_seconds_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run, worker = streaming(base_settings, load, "faults_readonly", 12, 9470, tmp_path, 0.3)
    with server_setting(base_settings, "default_transaction_read_only", "on"):
        time.sleep(20)
        assert worker.poll() is None, "the worker waits for the database to take writes again"
    waited = waited_out(run, worker, 9470, "25006")
    compare(run, clean, figures, "database read-only (default_transaction_read_only) for 20 s at 30%",
            {"read_only_periods": 1}, started, {"read_only_seconds": 20, "retries_25006_on_metrics": int(waited)})


def test_statement_timeout_storm_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run, worker = streaming(base_settings, load, "faults_timeouts", 13, 9471, tmp_path, 0.2)
    storms = 0
    for _ in range(4):  # 4 storms of 4 s in which nearly every batch statement is cancelled
        with server_setting(base_settings, "statement_timeout", "2ms"):
            time.sleep(4)
        storms += 1
        time.sleep(2)
        assert worker.poll() is None
    waited = waited_out(run, worker, 9471, "57014")
    compare(run, clean, figures, "statement_timeout storms (2 ms, 4 times 4 s) from 20%",
            {"timeout_storms": storms}, started, {"retries_57014_on_metrics": int(waited)})


def test_a_day_row_locked_for_30_seconds_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run, worker = streaming(base_settings, load, "faults_lock", 14, 9472, tmp_path, 0.3)
    with psycopg.connect(run.settings.database_url) as holder:
        # the rows of the newest day still being filled: the blocks still to come for that day need them
        # (when the worker has just finished a day, the next day's first rows are awaited)
        deadline = time.monotonic() + 60
        while True:
            day = holder.execute("select max(local_day) from interval_blocks "
                                 "where read_count < array_length(values, 1)").fetchone()[0]
            holder.rollback()
            if day is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        locked = holder.execute(
            "select count(*) from (select 1 from interval_blocks where local_day = %s for update) as held",
            (day,)).fetchone()[0]
        time.sleep(30)
        assert worker.poll() is None
        holder.rollback()
    waited = waited_out(run, worker, 9472, "55P03")  # the worker's lock_timeout made the wait retries
    assert locked > 0
    compare(run, clean, figures, "the newest day's rows locked (SELECT FOR UPDATE) for 30 s at 30%",
            {"row_locks_held": 1}, started, {"rows_locked": int(locked), "retries_55P03_on_metrics": int(waited)})
