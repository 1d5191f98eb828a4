import numpy as np
from hypothesis import given, settings, strategies as st

from vee import blocks as vee
from meterdata.codec import Block, BlockBatch
from vee.rules import (DUPLICATE, FUTURE, HIGH, INTERVAL_MISMATCH, LOW, MISALIGNED, NEGATIVE,
                               UNKNOWN_METER, rule_codes)

NOW = 1_795_000_000
START = 1_792_000_800


def make_batch(blocks):
    """Blocks (meter, channel, start, interval, values[, version[, quality]])."""
    return BlockBatch.from_blocks([
        Block(m, c, s, i, np.asarray(v, np.int64), np.full(len(v), rest[1] if len(rest) > 1 else 0, np.uint8),
              rest[0] if rest else None) for m, c, s, i, v, *rest in blocks])


def facts(batch, expected=900, low=0, high=10_000):
    index = {m: n for n, m in enumerate(dict.fromkeys(batch.meter_ids))}
    n = len(batch)
    return dict(meter_index=np.array([index[m] for m in batch.meter_ids], np.int64),
                expected_interval=np.full(n, expected, np.int64), low=np.full(n, low, np.int64),
                high=np.full(n, high, np.int64), align_offset=np.zeros(n, np.int64))


def run_both(batch, now=NOW, tolerance=300, **overrides):
    arguments = {**facts(batch), **overrides}
    kernel = vee.validate(batch, now=now, future_tolerance=tolerance, **arguments)
    reference = vee.validate_reference(batch, now=now, future_tolerance=tolerance, **arguments)
    assert kernel.tolist() == reference.tolist()
    return kernel


def test_clean_block_passes():
    assert not run_both(make_batch([("E1", 1, START, 900, [10, 20, 30])])).any()


def test_negative_high_low():
    batch = make_batch([("E1", 1, START, 900, [-1, 5, 20_000, 3])])
    flags = run_both(batch, low=np.full(1, 4, np.int64))
    assert flags.tolist() == [NEGATIVE, 0, HIGH, LOW]


def test_interval_mismatch_and_misaligned_flag_the_whole_block():
    flags = run_both(make_batch([("E1", 1, START, 3600, [1, 2])]))
    assert all(f & INTERVAL_MISMATCH for f in flags)
    flags = run_both(make_batch([("E1", 1, START + 60, 900, [1, 2])]))
    assert all(f & MISALIGNED for f in flags)


def test_alignment_is_in_local_time():
    # hourly reads aligned on local hours of a +05:30 zone start at :30 UTC
    batch = make_batch([("W1", 1, START + 1800, 3600, [1, 2])])
    arguments = facts(batch, expected=3600)
    arguments["align_offset"] = np.array([19_800], np.int64)
    assert not vee.validate(batch, now=NOW, future_tolerance=300, **arguments).any()


def test_future_intervals():
    now = START + 1800
    flags = run_both(make_batch([("E1", 1, START, 900, [1, 2, 3, 4])]), now=now, tolerance=0)
    assert flags.tolist() == [0, 0, FUTURE, FUTURE]


def test_unknown_meter():
    flags = run_both(make_batch([("X1", 1, START, 900, [1])]), expected_interval=np.zeros(1, np.int64))
    assert flags.tolist() == [UNKNOWN_METER]


def test_duplicates_conflicting_only():
    batch = make_batch([("E1", 1, START, 900, [1, 2, 3]),
                        ("E1", 1, START + 900, 900, [2, 9]),  # same 2nd interval, conflicting 3rd
                        ("E1", 2, START, 900, [5]),  # other channel: no duplicate
                        ("E2", 1, START, 900, [7])])  # other meter
    flags = run_both(batch)
    assert flags.tolist() == [0, 0, 0, 0, DUPLICATE, 0, 0]


def test_readings_of_another_version_or_kind_are_not_conflicting_duplicates():
    batch = make_batch([("E1", 1, START, 900, [1, 2], 5), ("E1", 1, START, 900, [1, 3], 6),  # a newer version
                        ("E2", 1, START, 900, [1, 2], 5), ("E2", 1, START, 900, [1, 3], 5),  # the same one
                        ("E3", 1, START, 900, [4], 5, 0), ("E3", 1, START, 900, [8], 5, 1)])  # actual, estimate
    flags = run_both(batch)
    assert flags.tolist() == [0, 0, 0, 0, 0, 0, 0, DUPLICATE, 0, 0]


def test_rule_codes():
    assert rule_codes(NEGATIVE | FUTURE) == ["negative", "future"]


def test_the_rule_registry_has_one_bit_and_one_code_per_rule_within_32_bits():
    from vee.rules import REGISTRY, Rule, check_registry
    assert check_registry() == []
    assert check_registry(REGISTRY + (Rule(1 << 31, "next", "issue", "vee.days", "the 32nd rule"),)) == []
    wrong = REGISTRY + (Rule(1 << 32, "too_wide", "issue", "vee.days", ""), Rule(NEGATIVE, "negative", "x", "", ""))
    assert check_registry(wrong) == ["too_wide: bit 4294967296 is not one bit of 32", "negative: unknown severity x",
                                     "bit 1 used twice", "code negative used twice"]


def test_flags_are_32_bits_wide_so_rules_past_the_16th_fit():
    flags = run_both(make_batch([("E1", 1, START, 900, [-5, 10])]))
    assert flags.dtype == np.uint32
    assert int((flags | np.uint32(1 << 31))[0]) == (1 << 31) | NEGATIVE


@st.composite
def random_batches(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    blocks = []
    for _ in range(draw(st.integers(1, 40))):
        interval = int(rng.choice([900, 3600]))
        start = START + int(rng.integers(-8, 8)) * 900 + int(rng.choice([0, 0, 0, 60]))
        count = int(rng.integers(1, 12))
        values = rng.integers(-3, 12, count)
        blocks.append((f"M{rng.integers(4)}", int(rng.integers(1, 3)), start, interval, values,
                       int(rng.integers(0, 3)), int(rng.choice([0, 0, 1, 200]))))
    return make_batch(blocks)


@settings(max_examples=300, deadline=None)
@given(random_batches(), st.integers(-20_000, 20_000))
def test_kernels_agree_with_the_reference(batch, now_shift):
    n = len(batch)
    rng = np.random.default_rng(n)
    arguments = dict(meter_index=np.array([int(m[1:]) for m in batch.meter_ids], np.int64),
                     expected_interval=rng.choice([0, 900, 3600], n).astype(np.int64),
                     low=rng.integers(0, 3, n).astype(np.int64), high=rng.integers(5, 12, n).astype(np.int64),
                     align_offset=rng.choice([0, 1800], n).astype(np.int64))
    now = START + now_shift
    kernel = vee.validate(batch, now=now, future_tolerance=300, **arguments)
    reference = vee.validate_reference(batch, now=now, future_tolerance=300, **arguments)
    assert kernel.tolist() == reference.tolist()
