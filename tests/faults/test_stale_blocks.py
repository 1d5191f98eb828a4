"""Blocks with versions from a head-end: stale resends (an older version, other values) and the
head-end's own estimates of a newer version arrive before and after the real reads; none of them
replaces an actual of the same or a newer version, so the end state equals the clean run's."""
import random
import time

import numpy as np
import pytest

from scenarios.harness import start_worker
from meterdata.codec import Message, decode, encode_binary
from tests.faults.harness import FaultRun
from tests.faults.test_worker_faults import compare, finish, scrape

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def versioned(message: Message, version: int, bump: int = 0, quality: int | None = None) -> Message:
    block = decode(message.value)
    values = block.values + bump
    codes = block.quality if quality is None else np.full(len(values), quality, np.uint8)
    return Message(message.key, encode_binary(type(block)(block.meter_id, block.channel, block.start,
                                                          block.interval_s, values, codes, version)))


def test_stale_resends_and_newer_estimates_never_replace_actuals(base_settings, load, clean, figures, tmp_path):
    started = time.monotonic()
    run = FaultRun(base_settings, "faults_stale", load, redis_db=15, batch_max_messages=500)
    rng = random.Random(17)
    picked = rng.sample(range(len(load.messages)), len(load.messages) // 10)
    actual = [versioned(m, 2_000) for m in load.messages]  # the real reads, version 2000
    stale = [versioned(load.messages[i], 1_000, bump=1) for i in picked]  # an older reading: other values
    estimates = [versioned(load.messages[i], 3_000, bump=2, quality=1) for i in picked]  # newer, but estimates
    half = len(picked) // 2
    before, after = stale[:half] + estimates[:half], stale[half:] + estimates[half:] + stale[:half]
    run.publish(before + actual + after)  # per meter in this order: a key keeps its partition
    sent = len(before) + len(actual) + len(after)
    worker = start_worker(run.settings, 9473, str(tmp_path / "worker.log"))
    run.wait_for_reads(load.reads, workers=[worker])
    deadline = time.monotonic() + 300
    while scrape(9473, "m2c_messages_received_total") < sent:
        assert time.monotonic() < deadline and worker.poll() is None, "every message consumed"
        time.sleep(0.5)
    superseded = scrape(9473, "m2c_reads_superseded_total")
    finish(run, [worker])
    assert superseded > 0  # the stale and estimated reads after the actuals were seen and not taken
    compare(run, clean, figures, "stale resends (older version) and head-end estimates (newer) before and after "
            "the actuals", {"stale_blocks": len(stale) + half, "estimate_blocks": len(estimates)}, started,
            {"reads_superseded_on_metrics": int(superseded)})
