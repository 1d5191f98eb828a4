"""Real messages through the real broker to a real worker process: storage, DLQ, exceptions, estimates."""
import json
import time
import urllib.request
from datetime import date, datetime, time as clock_time
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from confluent_kafka import Consumer, Producer

from scenarios.harness import start_worker, stop_worker
from simulators.utility import make_utility
from storage.cache import EstimateCache
from storage.bulk_load import load_directory
from meterdata.codec import Block, encode_binary, encode_json
from streams.topics import ensure_topics

pytestmark = pytest.mark.integration
METRICS_PORT = 9341


def produce(settings, messages):
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    for key, value in messages:
        producer.produce(settings.topic_raw, key=key, value=value)
    assert producer.flush(30) == 0


def consume_all(settings, topic, expected, timeout=60.0):
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{topic}.{time.time_ns()}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    found, deadline = [], time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            found.append(message)
    consumer.close()
    return found


def wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def scrape() -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10).read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_worker_stores_flags_dead_letters_and_estimates(settings, tmp_path):
    utility = make_utility(meters=3, seed=9, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
    ensure_topics(settings)
    electric = next(m for m in utility.meters if m.service == "electric")
    start = int(datetime.combine(date(2026, 10, 21), clock_time(0), ZoneInfo(settings.utility_zone)).timestamp())
    good = Block(electric.meter_no, 1, start, 900, np.arange(1, 97, dtype=np.int64), np.zeros(96, np.uint8))
    bad = Block(electric.meter_no, 1, start + 86400, 900, np.array([5, -7, 5, 5]), np.zeros(4, np.uint8))
    messages = [(b"E", encode_binary(good)), (b"E", encode_json(bad)),
                (b"junk", b"\x00\x01not a block"), (b"junk", b'{"meter_id": 5}')]
    worker = start_worker(settings, METRICS_PORT, str(tmp_path / "worker.log"))
    try:
        produce(settings, messages)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            count = "select coalesce(sum(read_count), 0) from usage_daily"
            wait_for(lambda: conn.execute(count).fetchone()[0] == 99, what="stored reads")
            assert conn.execute("select sum(quantity) from usage_daily").fetchone()[0] == sum(range(1, 97)) + 15
            exception = conn.execute("select meter_no, rules, flagged_count, severity from vee_exceptions").fetchall()
            assert exception == [(electric.meter_no, ["negative"], 1, "blocks_billing")]
            account_id = conn.execute("select id from accounts where account_no = %s",
                                      (electric.account_no,)).fetchone()[0]
            cache = EstimateCache.for_database(settings.redis_url, conn)

        letters = consume_all(settings, settings.topic_dlq, 2)
        reasons = sorted(dict(m.headers())["m2c-reason"].decode() for m in letters)
        assert reasons == ["missing_field", "unknown_format"]
        assert {m.value() for m in letters} == {b"\x00\x01not a block", b'{"meter_id": 5}'}  # kept as sent
        events = consume_all(settings, settings.topic_exceptions, 1)
        assert json.loads(events[0].value())["rules"] == ["negative"]

        estimate = wait_for(lambda: cache.read(account_id), what="estimate")
        assert estimate["bill_to_date_minor"] > 0 and estimate["days_elapsed"] == 3

        metrics = scrape()
        assert metrics['m2c_reads_stored_total{service="electric"}'] == 99
        assert metrics['m2c_reads_flagged_total{service="electric"}'] == 1
        assert metrics['m2c_dlq_messages_total{reason="unknown_format"}'] == 1
        assert metrics['m2c_vee_exceptions_total{rule="negative",severity="blocks_billing"}'] == 1
        assert metrics['m2c_db_rows_written_total{table="interval_blocks"}'] == 2  # two local days
        assert metrics["m2c_append_to_estimate_seconds_count"] >= 1
        assert metrics["m2c_read_to_estimate_seconds_count"] >= 1
        assert metrics["m2c_last_batch_timestamp_seconds"] > time.time() - 120
        lag = wait_for(lambda: {k: v for k, v in scrape().items() if k.startswith("m2c_consumer_lag_messages")},
                       timeout=30, what="consumer lag")
        assert len(lag) == settings.topic_partitions and all(v >= 0 for v in lag.values())

        # the same messages again (a producer retry, a replay): stored state does not move
        produce(settings, messages)
        consume_all(settings, settings.topic_dlq, 4)  # the replay has been processed once its letters are out
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            time.sleep(1.0)
            assert conn.execute("select sum(read_count), sum(quantity) from usage_daily").fetchone() == \
                (99, sum(range(1, 97)) + 15)
    finally:
        stop_worker(worker)
    assert worker.returncode is not None
