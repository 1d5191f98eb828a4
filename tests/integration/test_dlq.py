"""``m2c dlq list|show|replay`` on the real broker and a real worker: letters an earlier defect sent to the
dead-letter topic are recovered through the normal pipeline, once, and a second replay changes nothing."""
import json
import time
from datetime import date, datetime, time as clock_time
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from confluent_kafka import Producer

from meter2cash.cli import build_parser
from scenarios.harness import start_worker, stop_worker
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from meterdata.codec import Block, encode_binary
from streams.topics import ensure_topics
from tests.integration.test_kafka_worker import wait_for

pytestmark = pytest.mark.integration
METRICS_PORT = 9343


def m2c(settings, capsys, *argv) -> tuple[int, dict | str]:
    args = build_parser().parse_args(list(argv))
    status = args.func(args, settings)
    out = capsys.readouterr()
    text = out.out.strip() or out.err.strip()
    return status, json.loads(text) if "--json" in argv else text


def letter(settings, producer, value: bytes, key: bytes, reason: str, **extra) -> None:
    headers = [("m2c-reason", reason.encode()), ("m2c-detail", b"as an earlier defect wrote it"),
               ("m2c-source", f"{settings.topic_raw}/0/{time.time_ns() % 1000}".encode()),
               *[(k, v.encode()) for k, v in extra.items()]]
    producer.produce(settings.topic_dlq, key=key, value=value, headers=headers)


def stored(conn) -> tuple[int, int]:
    return conn.execute("select coalesce(sum(read_count), 0), coalesce(sum(quantity), 0) from usage_daily").fetchone()


def test_dead_letters_are_listed_shown_and_replayed_once(settings, capsys, tmp_path):
    utility = make_utility(meters=3, seed=9, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
    ensure_topics(settings)
    meter = next(m for m in utility.meters if m.service == "electric")
    zone = ZoneInfo(settings.utility_zone)
    day = [int(datetime.combine(date(2026, 10, d), clock_time(0), zone).timestamp()) for d in (21, 22, 23)]
    blocks = [Block(meter.meter_no, 1, day[n], 900, np.full(96, n + 1, np.int64), np.zeros(96, np.uint8))
              for n in range(3)]
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    key = meter.meter_no.encode()
    for block in blocks[:2]:  # valid blocks that a database error once dead-lettered for good
        letter(settings, producer, encode_binary(block), key, "processing_error",
               **{"m2c-source-time": str(int(time.time() * 1000) - 3_600_000)})
    letter(settings, producer, b"\x00\x01not a block", key, "unknown_format")  # same partition as the blocks
    letter(settings, producer, b"x" * 1024, b"big", "oversized", **{"m2c-body": "reference", "m2c-size": "5000000"})
    assert producer.flush(30) == 0

    status, listed = m2c(settings, capsys, "dlq", "list", "--json")
    assert status == 0 and listed["selected"] == 4
    assert listed["by_reason"] == {"processing_error": 2, "unknown_format": 1, "oversized": 1}
    status, shown = m2c(settings, capsys, "dlq", "show", "0/3", "--json")
    assert status == 0 and shown["by_reference"] and shown["size"] == 5_000_000
    status, text = m2c(settings, capsys, "dlq", "show", "0/9")
    assert status == 2 and text.startswith("error: no_such_letter:")
    status, refused = m2c(settings, capsys, "dlq", "replay", "--reason", "processing_error", "--json")
    assert status == 2 and refused["error"] == "why_required"
    status, text = m2c(settings, capsys, "dlq", "replay", "--since", "yesterday", "--why", "x")
    assert status == 2 and text.startswith("error: bad_time:")

    worker = start_worker(settings, METRICS_PORT, str(tmp_path / "worker.log"))
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            status, result = m2c(settings, capsys, "dlq", "replay", "--reason", "processing_error",
                                 "--why", "reads lost to the read-only database on 11-03", "--by", "ops", "--json")
            assert status == 0 and result["replayed"] == 2 and result["by_reason"] == {"processing_error": 2}
            wait_for(lambda: stored(conn) == (192, 96 * 1 + 96 * 2), what="replayed reads stored")

            status, again = m2c(settings, capsys, "dlq", "replay", "--reason", "processing_error", "--why", "again",
                                "--json")
            assert status == 0 and again["replayed"] == 0 and again["already_replayed"] == 2

            status, forced = m2c(settings, capsys, "dlq", "replay", "--all", "--again", "--why", "forced", "--json")
            assert forced["replayed"] == 3 and forced["by_reference"] == 1  # the junk goes round again
            # a block of the same meter (same partition) after them: once it is in, the replay was processed
            producer.produce(settings.topic_raw, key=key, value=encode_binary(blocks[2]))
            assert producer.flush(30) == 0
            wait_for(lambda: stored(conn)[0] == 288, what="the block after the replay")
            assert stored(conn) == (288, 96 * (1 + 2 + 3))  # the second replay changed nothing
            rows = conn.execute("select reason, actor, why from dlq_replays order by id").fetchall()
            assert rows[:2] == [("processing_error", "ops", "reads lost to the read-only database on 11-03")] * 2
            assert len(rows) == 5
    finally:
        stop_worker(worker)
    status, listed = m2c(settings, capsys, "dlq", "list", "--reason", "unknown_format", "--json")
    assert listed["selected"] == 2  # the junk replayed once more was dead-lettered again, with its reason
    status, dry = m2c(settings, capsys, "dlq", "replay", "--all", "--dry-run", "--why", "look", "--json")
    assert dry["replayed"] == 0 and dry["would_replay"] == 1 and dry["already_replayed"] == 3
