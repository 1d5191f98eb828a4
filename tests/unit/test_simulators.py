from datetime import datetime, time
from zoneinfo import ZoneInfo

from simulators.headend import FaultPlan, Truth, generate
from simulators.utility import make_utility
from meterdata.codec import DecodeError, decode


def test_the_same_seed_gives_the_same_messages():
    utility = make_utility(meters=12, seed=3)
    first = [m.value for m in generate(utility, faults=FaultPlan.demo(), seed=5)]
    second = [m.value for m in generate(make_utility(meters=12, seed=3), faults=FaultPlan.demo(), seed=5)]
    assert first == second
    third = [m.value for m in generate(utility, faults=FaultPlan.demo(), seed=6)]
    assert first != third


def test_utility_mix_and_multi_service_accounts():
    utility = make_utility(meters=300, seed=1)
    assert len(utility.meters) == 300
    services = {m.service for m in utility.meters}
    assert services == {"electric", "water", "gas"}
    per_account = {}
    for meter in utility.meters:
        per_account.setdefault(meter.account_no, []).append(meter.service)
    assert any(len(s) == 3 for s in per_account.values()) and any(len(s) == 1 for s in per_account.values())


def test_truth_counts_what_was_generated():
    utility = make_utility(meters=30, seed=2)
    truth = Truth()
    faults = FaultPlan(negative=0.01, spike=0.01, misaligned=0.01, unknown_meter=0.01, undecodable=0.01)
    reads = undecodable = 0
    for message in generate(utility, faults=faults, truth=truth, json_share=0.3):
        try:
            reads += len(decode(message.value).values)
        except DecodeError:
            undecodable += 1
    assert reads == truth.reads and undecodable == truth.dlq_messages > 0
    assert set(truth.faults) == {"negative", "spike", "misaligned", "unknown_meter", "undecodable"}
    zone = ZoneInfo(utility.zone)
    seconds = (datetime.combine(utility.period_end, time(0), zone).timestamp()
               - datetime.combine(utility.period_start, time(0), zone).timestamp())
    assert seconds == 30 * 86400 + 3600  # the period holds the fall-back day
    generated = sum(int(seconds) // m.interval_s for m in utility.meters)
    largest_block = 6 * 3600 // 900
    assert generated - truth.dlq_messages * largest_block <= truth.reads <= generated
    assert truth.reads < generated  # the undecodable messages' reads are not counted as published


def test_day_blocks_follow_local_days_including_dst():
    from simulators.headend import block_bounds

    zone = ZoneInfo("America/Chicago")
    start = datetime(2026, 10, 31, tzinfo=zone)
    end = datetime(2026, 11, 3, tzinfo=zone)
    bounds = block_bounds("America/Chicago", start, end, 24)
    assert [b - a for a, b in zip(bounds[:-1], bounds[1:])] == [86400, 90000, 86400]
    six = block_bounds("America/Chicago", start, end, 6)
    assert len(six) == 13 and six[0] == int(start.timestamp())
