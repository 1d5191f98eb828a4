"""A worker killed with SIGKILL mid-stream and restarted: nothing lost, nothing counted twice."""
import os
import signal
import time

import psycopg
import pytest
import redis

from scenarios.harness import start_worker, stop_worker
from simulators.headend import generate
from streams.producer import publish
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from meterdata.codec import decode
from billing.estimate import rebuild_estimates
from streams.topics import ensure_topics
from storage.cache import EstimateCache
from storage.tariffs import current_tariffs

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_kill_9_mid_stream_then_restart_gives_the_exact_totals(settings, tmp_path):
    settings = settings.__class__(**{**settings.__dict__, "batch_max_messages": 200})
    utility = make_utility(meters=40, seed=13, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
    ensure_topics(settings)
    messages = list(generate(utility, block_hours=6))
    expected_reads = sum(len(decode(m.value).values) for m in messages)
    expected_quantity = sum(int(decode(m.value).values.sum()) for m in messages)
    publish(settings.kafka_bootstrap, settings.topic_raw, messages)

    def stored(conn):
        return conn.execute("select coalesce(sum(read_count), 0), coalesce(sum(quantity), 0) "
                            "from usage_daily").fetchone()

    kills = 0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for fraction in (0.2, 0.5, 0.8):
            worker = start_worker(settings, 9350 + kills, str(tmp_path / f"worker{kills}.log"))
            deadline = time.monotonic() + 120
            while stored(conn)[0] < fraction * expected_reads:
                assert time.monotonic() < deadline, "the worker made no progress"
                assert worker.poll() is None, (tmp_path / f"worker{kills}.log").read_text()[-2000:]
                time.sleep(0.05)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            kills += 1
        worker = start_worker(settings, 9360, str(tmp_path / "final.log"))
        try:
            deadline = time.monotonic() + 180
            while stored(conn)[0] < expected_reads and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2.0)  # anything still being redelivered lands now
            reads, quantity = stored(conn)
            blocks = conn.execute("select sum(read_count), sum(total) from interval_blocks").fetchone()
        finally:
            stop_worker(worker)
    assert kills == 3
    assert (reads, quantity) == (expected_reads, expected_quantity)
    assert tuple(blocks) == (expected_reads, expected_quantity)

    # the running estimates left behind equal a rebuild from PostgreSQL: none went stale in the kills
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cache = EstimateCache.for_database(settings.redis_url, conn)
        accounts = [row[0] for row in conn.execute("select id from accounts order by id")]
        streamed = {a: cache.read(a) for a in accounts}
        redis.Redis.from_url(settings.redis_url).flushdb()
        rebuild_estimates(conn, cache, current_tariffs(conn))
    rebuilt = {a: cache.read(a) for a in accounts}
    figures = ("bill_to_date_minor", "projected_minor", "days_elapsed")
    assert {a: tuple(b[f] for f in figures) for a, b in streamed.items()} == \
        {a: tuple(b[f] for f in figures) for a, b in rebuilt.items()}
