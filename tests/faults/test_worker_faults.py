"""Streams workers killed, PostgreSQL stopped, Redis flushed and restarted, mid-ingest of the load:
the end state equals the clean run's."""
import random
import time
import urllib.request

import pytest

from scenarios.harness import start_worker, stop_worker
from tests.faults.harness import FaultRun, differences, end_state, flush_redis, kill, services

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def finish(run: FaultRun, workers: list) -> None:
    run.wait_for_reads(run.load.reads, workers=workers)
    time.sleep(1.0)  # a redelivery in flight lands now
    for worker in workers:
        stop_worker(worker)
    run.close_and_bill()


def compare(run: FaultRun, clean: dict, figures, name: str, faults: dict, started: float,
            observed: dict | None = None) -> None:
    got = end_state(run.settings)
    diffs = differences(clean, got)
    figures.add(name, faults, run.load.reads, diffs, time.monotonic() - started, observed)
    assert diffs == {part: 0 for part in diffs}, diffs


def test_a_worker_killed_five_times_mid_replay(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_kill", load, redis_db=5, batch_max_messages=500)
    run.publish()
    points = sorted(random.Random(5).uniform(0.1, 0.9) for _ in range(5))
    kills = 0
    for number, fraction in enumerate(points):
        worker = start_worker(run.settings, 9420 + number, str(tmp_path / f"worker{number}.log"))
        run.wait_for_reads(int(fraction * load.reads), workers=[worker])
        kill(worker)
        kills += 1
    worker = start_worker(run.settings, 9429, str(tmp_path / "last.log"))
    finish(run, [worker])
    compare(run, clean, figures, "worker killed (SIGKILL) 5 times at random points, restarted each time",
            {"kills": kills}, started)


def test_two_workers_one_killed_the_other_takes_its_partitions(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_pair", load, redis_db=6, batch_max_messages=500)
    workers = [start_worker(run.settings, 9430 + n, str(tmp_path / f"w{n}.log")) for n in range(2)]
    time.sleep(6)  # both in the group before the load arrives
    run.publish()
    run.wait_for_reads(int(0.4 * load.reads), workers=workers)
    kill(workers[0])
    finish(run, workers[1:])
    compare(run, clean, figures, "two workers, one killed (SIGKILL) at 40%: partitions reassigned",
            {"kills": 1}, started)


def scrape(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def test_postgresql_stopped_for_30_seconds_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_pg", load, redis_db=7)
    worker = start_worker(run.settings, 9440, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(0.3 * load.reads), workers=[worker])
    services("down", "postgres")
    time.sleep(30)
    assert worker.poll() is None, "the worker must wait out the outage"
    services("up", "postgres")
    run.wait_for_reads(load.reads, workers=[worker])
    retries = scrape(9440, "m2c_db_retries_total")
    finish(run, [worker])
    assert retries > 0  # the outage shows on /metrics
    compare(run, clean, figures, "PostgreSQL stopped for 30 s at 30% and restarted",
            {"database_outages": 1}, started, {"outage_seconds": 30, "database_retries_on_metrics": int(retries)})


def test_redis_flushed_then_restarted_mid_ingest(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_redis", load, redis_db=8)
    worker = start_worker(run.settings, 9450, str(tmp_path / "worker.log"))
    run.publish()
    run.wait_for_reads(int(0.3 * load.reads), workers=[worker])
    flush_redis(run.settings)
    run.wait_for_reads(int(0.6 * load.reads), workers=[worker])
    services("down", "redis")
    time.sleep(3)
    services("up", "redis")
    run.wait_for_reads(load.reads, workers=[worker])
    rebuilds = scrape(9450, "m2c_estimate_rebuilds_total")
    finish(run, [worker])
    assert rebuilds >= 2  # once after the flush, once after the restart
    compare(run, clean, figures, "Redis flushed at 30%, restarted (data lost) at 60%",
            {"redis_flushes": 1, "redis_restarts": 1}, started, {"estimate_rebuilds_on_metrics": int(rebuilds)})


def test_postgresql_killed_then_started_again_at_once(base_settings, figures):
    """A postmaster killed with SIGKILL leaves its pid file (and maybe backends): `services.sh up` clears
    them and starts the cluster, instead of waiting on a dead pid and failing."""
    import os
    import signal

    import psycopg

    started = time.monotonic()
    with psycopg.connect(base_settings.database_url, autocommit=True) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        postmaster = int(next(line.split()[1] for line in open(f"/proc/{backend}/status") if line.startswith("PPid:")))
        os.kill(postmaster, signal.SIGKILL)
    time.sleep(1)
    services("up", "postgres")
    with psycopg.connect(base_settings.database_url, autocommit=True) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    figures.add("PostgreSQL's postmaster killed (SIGKILL), then `services.sh up`", {"postmaster_kills": 1}, 0,
                {}, time.monotonic() - started, {"up_seconds": round(time.monotonic() - started, 1)})
