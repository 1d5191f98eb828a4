"""Poison messages larger than the pipeline's own message limit, on a topic that took them (configured
larger by someone else): 2 MiB of junk, a 2.4 MB JSON document and junk just under the limit are
dead-lettered by reference, a smaller one whole; the worker is killed and restarted around them, and no
partition stops: the end state equals the clean run's."""
import json
import random
import time

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

from scenarios.harness import start_worker
from meterdata.codec import Message
from streams.dlq import read_letters
from tests.faults.harness import FaultRun, kill
from tests.faults.test_worker_faults import compare, finish

pytestmark = [pytest.mark.faults, pytest.mark.slow]
LIMIT = 1024 * 1024  # the worker's M2C_MESSAGE_MAX_BYTES in this scenario
TOPIC_LIMIT = 8 * 1024 * 1024  # what the raw topic was configured to take


def test_oversized_poison_messages_with_restarts(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_poison", load, redis_db=12, batch_max_messages=500,
                   message_max_bytes=LIMIT)
    admin = AdminClient({"bootstrap.servers": run.settings.kafka_bootstrap})
    larger = ConfigEntry("max.message.bytes", str(TOPIC_LIMIT), incremental_operation=AlterConfigOpType.SET)
    topic = ConfigResource(ResourceType.TOPIC, run.settings.topic_raw, incremental_configs=[larger])
    for future in admin.incremental_alter_configs([topic]).values():
        future.result(30)
    rng = random.Random(23)
    meter = load.messages[0].key
    junk = b"\x07" + rng.randbytes(2 * 1024 * 1024 - 1)
    document = json.dumps({"meter_id": meter.decode(), "channel": 1, "start": "2026-10-21T05:00:00Z",
                           "interval_s": 900, "values": [1] * 1_200_000}).encode()
    near = b"\x07" + rng.randbytes(LIMIT - 64)  # fits the topic and the limit, but not with the letter's headers
    small = b"\x07" + rng.randbytes(500 * 1024)
    poison = {"junk_2MiB": junk, "json_2.4MB": document, "near_limit": near, "small": small}
    assert len(document) > 2_400_000
    messages = list(load.messages)
    for number, body in enumerate(poison.values()):  # on a real meter's partition, spread through the load
        messages.insert((number + 1) * len(messages) // 6, Message(meter, body))
    run.publish(messages, record_limit=TOPIC_LIMIT + 65536)
    restarts = 0
    worker = start_worker(run.settings, 9474, str(tmp_path / "worker0.log"))
    for fraction in (0.35, 0.7):
        run.wait_for_reads(int(fraction * load.reads), workers=[worker])
        kill(worker)
        restarts += 1
        worker = start_worker(run.settings, 9475 + restarts, str(tmp_path / f"worker{restarts}.log"))
    finish(run, [worker])
    letters = read_letters(run.settings)
    by_size = {}
    for letter in letters:
        by_size.setdefault(letter.size, letter)
    for name, body in poison.items():
        found = by_size.get(len(body))
        assert found is not None, f"{name} was dead-lettered"
        assert found.value == (body[:1024] if found.by_reference else body), name
        assert found.source.startswith(run.settings.topic_raw + "/"), name
    assert [by_size[len(poison[n])].by_reference for n in poison] == [True, True, True, False]
    assert by_size[len(document)].reason == "too_many_values" and by_size[len(junk)].reason == "unknown_format"
    compare(run, clean, figures, "poison messages over the message limit (2 MiB junk, 2.4 MB JSON, one at the "
            "limit) and one under it, the worker killed and restarted twice", {"poison_messages": len(poison),
            "kills": restarts}, started, {"dead_letters": len(letters),
                                         "by_reference": sum(1 for letter in letters if letter.by_reference)})
