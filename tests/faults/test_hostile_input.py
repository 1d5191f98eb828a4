"""100,000 hostile raw messages through a real worker: each one dead-lettered with its reason or its
reads stored or flagged, the worker never crashes, its memory stays bounded. Fuzzed tariff and
payment files: clear errors with positions, nothing half-done."""
import json
import random
import struct
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from scenarios.harness import start_worker, stop_worker
from meterdata.codec import Message
from meterdata.codec import DecodeError, decode
from tests.faults.harness import FaultRun, rss_kib, worker_children

pytestmark = [pytest.mark.faults, pytest.mark.slow]
HOSTILE = 100_000
FUTURE = 1_900_000_000  # 2030: a known meter's reads from the future are flagged, never stored


def hostile_messages(valid: list[Message], meters: list[str], count: int, seed: int = 3) -> list[Message]:
    rng = random.Random(seed)
    out = []
    for number in range(count):
        kind = number % 10
        key = rng.choice(meters).encode()
        if kind == 0 and valid:  # a real block, once
            out.append(valid.pop())
            continue
        if kind == 1:  # random bytes
            value = rng.randbytes(rng.randint(0, 200))
        elif kind == 2 and valid:  # a real block cut short
            source = valid[rng.randrange(len(valid))].value
            value = source[:rng.randrange(len(source))]
        elif kind == 3:  # a binary header claiming a billion values
            meter = b"X" + str(number).encode()
            value = b"MB" + bytes([1, 0, len(meter)]) + meter + struct.pack("<hqiI", 1, FUTURE, 900, 10**9)
        elif kind == 4:  # JSON with wrong types
            value = json.dumps({"meter_id": rng.choice([None, 7, [], "x"]), "channel": "one",
                                "start": rng.choice([None, 12.5, "yesterday"]), "interval_s": "900",
                                "values": rng.choice(["1,2,3", {"a": 1}, None])}).encode()
        elif kind == 5:  # NaN and infinities
            value = json.dumps({"meter_id": "U" + str(number), "channel": 1, "start": "2026-11-01T05:00:00Z",
                                "interval_s": 900, "values": [1, float("nan"), float("inf"), -float("inf")]}).encode()
        elif kind == 6:  # absurd timestamps
            value = json.dumps({"meter_id": rng.choice(meters), "channel": 1,
                                "start": rng.choice(["0001-01-01T00:00:00Z", "9999-12-31T23:45:00Z", "2026-02-30T00:00:00Z",
                                                     "2030-01-01T00:00:00Z"]),
                                "interval_s": 900, "values": [5, 6, 7]}).encode()
        elif kind == 7:  # huge arrays from unknown meters
            value = json.dumps({"meter_id": "BIG" + str(number), "channel": 1, "start": "2026-11-01T05:00:00Z",
                                "interval_s": 900, "values": [1] * rng.choice([5000, 20000])}).encode()
        elif kind == 8:  # unknown meters, negative and enormous values
            value = json.dumps({"meter_id": "UNKNOWN-" + str(number), "channel": 1, "start": "2026-11-01T05:00:00Z",
                                "interval_s": 900, "values": [-5, 2**62, 0, 3]}).encode()
        else:  # a known meter's future reads
            value = json.dumps({"meter_id": rng.choice(meters), "channel": 1, "start": "2031-06-01T05:00:00Z",
                                "interval_s": 900, "values": [1, 2, 3, 4]}).encode()
        out.append(Message(key, value))
    return out


def dead_letter_reasons(settings) -> dict[str, int]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.app_id}.audit",
                         "enable.auto.commit": False})
    metadata = consumer.list_topics(settings.topic_dlq, timeout=10).topics[settings.topic_dlq]
    ends = {}
    for partition in metadata.partitions:
        ends[partition] = consumer.get_watermark_offsets(TopicPartition(settings.topic_dlq, partition), timeout=10)[1]
    consumer.assign([TopicPartition(settings.topic_dlq, p, 0) for p in ends])
    reasons: dict[str, int] = {}
    seen = 0
    while seen < sum(ends.values()):
        for message in consumer.consume(1000, timeout=5):
            if message.error():
                continue
            seen += 1
            headers = dict(message.headers() or [])
            reason = headers.get("m2c-reason", b"").decode() or "missing"
            reasons[reason] = reasons.get(reason, 0) + 1
    consumer.close()
    return reasons


def test_a_hundred_thousand_hostile_messages(base_settings, load, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_hostile", load, redis_db=11)
    meters = [m.meter_no for m in run.scenario.utility.meters]
    messages = hostile_messages(list(reversed(load.messages[:15_000])), meters, HOSTILE)
    decodable_reads, undecodable = 0, 0
    for message in messages:
        try:
            decodable_reads += len(decode(message.value).values)
        except DecodeError:
            undecodable += 1
    worker = start_worker(run.settings, 9480, str(tmp_path / "worker.log"))
    run.publish(messages)
    peak_kib = 0
    deadline = time.monotonic() + 600
    while True:
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
        peak_kib = max(peak_kib, sum(rss_kib(pid) for pid in worker_children(worker.pid)))
        progress = run.scenario.progress()
        if progress.stored_reads + progress.flagged_reads >= decodable_reads and progress.dlq_messages >= undecodable:
            break
        assert time.monotonic() < deadline, f"{progress} of {decodable_reads} reads, {undecodable} dead letters"
        time.sleep(0.5)
    time.sleep(1.0)
    progress = run.scenario.progress()
    stop_worker(worker)
    reasons = dead_letter_reasons(run.settings)
    figures.add("100,000 hostile raw messages (random bytes, truncated blocks, a billion-value header, wrong types, "
                "NaN/inf, absurd timestamps, huge arrays, unknown meters, future reads)",
                {"hostile_messages": HOSTILE},
                decodable_reads, {"reads_lost_or_doubled": progress.stored_reads + progress.flagged_reads - decodable_reads,
                                  "dead_letters_missing": undecodable - progress.dlq_messages,
                                  "dead_letters_without_reason": reasons.get("missing", 0)},
                time.monotonic() - started,
                {"undecodable": undecodable, "dead_letter_reasons": reasons, "worker_crashes": 0,
                 "peak_worker_rss_mib": peak_kib // 1024})
    assert progress.stored_reads + progress.flagged_reads == decodable_reads
    assert progress.dlq_messages == undecodable and sum(reasons.values()) == undecodable
    assert "missing" not in reasons
    assert peak_kib < 2 * 1024 * 1024, f"worker memory peaked at {peak_kib // 1024} MiB"
