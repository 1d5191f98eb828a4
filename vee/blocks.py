"""Validation kernels (Numba) over a batch of interval blocks in CSR layout.

Every kernel has a plain NumPy reference beside it (``*_reference``) and a test that both agree on
random input. Inputs are plain arrays; the clock (``now``) is an argument.
"""
from __future__ import annotations

import numba
import numpy as np

from meterdata.day_rows import precedence
from vee.rules import (DUPLICATE, DUPLICATE_LOOKBACK, FUTURE, HIGH, INTERVAL_MISMATCH, LOW,
                               MISALIGNED, NEGATIVE, UNKNOWN_METER)


@numba.njit(cache=True, nogil=True)
def check_reads(offsets, values, low, high, start, interval_s, expected_interval, align_offset, now,
                future_tolerance, flags):
    """Negative, below low / above high, unknown meter, interval mismatch, misalignment in local time
    and future intervals, in one pass. Per-block facts are worked out once per block; the per-read
    loop over the block's slice is branch-free, so that it vectorizes."""
    limit = now + future_tolerance
    for block in range(offsets.shape[0] - 1):
        step = np.int64(interval_s[block])
        block_flags = np.uint32(0)
        if expected_interval[block] == 0:
            block_flags |= UNKNOWN_METER
        elif step != expected_interval[block]:
            block_flags |= INTERVAL_MISMATCH
        if (start[block] + align_offset[block]) % step != 0:
            block_flags |= MISALIGNED
        lo, hi = low[block], high[block]
        first, last = offsets[block], offsets[block + 1]
        block_values = values[first:last]
        block_out = flags[first:last]
        for k in range(block_values.shape[0]):
            value = block_values[k]
            block_out[k] |= ((np.uint32(NEGATIVE) * np.uint32(value < 0))
                             | (np.uint32(LOW) * np.uint32((value >= 0) & (value < lo)))
                             | (np.uint32(HIGH) * np.uint32(value > hi)) | block_flags)
        # interval k ends at start + (k + 1) * step: in the future from index ahead // step on
        ahead = limit - start[block]
        future_from = first + (ahead // step if ahead >= 0 else 0)
        for i in range(max(future_from, first), last):
            flags[i] |= FUTURE


@numba.njit(cache=True, nogil=True)
def check_duplicates(order, meter_index, channel, offsets, start, interval_s, values, version, rank, flags):
    """Intervals of one meter and channel that two blocks of the batch both carry, with different values,
    the same version (per block) and the same kind of read (``rank``, per interval: staff edit, actual,
    estimate): two readings that nothing tells apart.

    ``order`` sorts blocks by (meter, channel, start). The later block's interval is flagged; an
    equal repeat is harmless (storage merges it idempotently) and is not flagged, and neither is a
    reading of another version or kind: storage keeps the stronger (docs/wire-format.md).
    """
    previous_key_start = 0
    max_end = np.int64(-1)
    for position in range(order.shape[0]):
        block = order[position]
        if position == 0 or meter_index[block] != meter_index[order[position - 1]] \
                or channel[block] != channel[order[position - 1]]:
            previous_key_start = position
            max_end = np.int64(-1)
        step = np.int64(interval_s[block])
        end = start[block] + (offsets[block + 1] - offsets[block]) * step
        if start[block] >= max_end:  # the usual case: nothing earlier of this key reaches this block
            if end > max_end:
                max_end = end
            continue
        for i in range(offsets[block], offsets[block + 1]):
            moment = start[block] + (i - offsets[block]) * step
            if moment >= max_end:
                continue
            # the first block (in order) that carries this moment holds the value that stands; a
            # search that runs out of look-back before the key's first block cannot clear the read
            conflict = False
            found = False
            earlier = position - 1
            while earlier >= previous_key_start:
                if earlier < position - DUPLICATE_LOOKBACK:
                    conflict = conflict or not found
                    break
                other = order[earlier]
                other_step = np.int64(interval_s[other])
                other_count = offsets[other + 1] - offsets[other]
                delta = moment - start[other]
                if delta >= 0 and delta < other_step * other_count and delta % other_step == 0:
                    j = offsets[other] + delta // other_step
                    conflict = values[j] != values[i] and version[other] == version[block] and rank[j] == rank[i]
                    found = True
                earlier -= 1
            if conflict:
                flags[i] |= DUPLICATE
        if end > max_end:
            max_end = end


def block_versions(batch) -> np.ndarray:
    """Per block, its version (0 where the batch has none: every block then counts the same)."""
    return batch.version if batch.version is not None else np.zeros(len(batch), np.int64)


def validate(batch, meter_index, expected_interval, low, high, align_offset, now: int,
             future_tolerance: int) -> np.ndarray:
    """All rules over one batch; returns per-interval flag bits (uint32, 0 = valid)."""
    flags = np.zeros(batch.read_count, dtype=np.uint32)
    check_reads(batch.offsets, batch.values, low, high, batch.start, batch.interval_s, expected_interval,
                align_offset, np.int64(now), np.int64(future_tolerance), flags)
    if len(meter_index) and np.bincount(meter_index).max() > 1:  # a meter with one block cannot repeat itself
        order = np.lexsort((batch.start, batch.channel, meter_index)).astype(np.int64)
        check_duplicates(order, meter_index, batch.channel, batch.offsets, batch.start, batch.interval_s,
                         batch.values, block_versions(batch), precedence(batch.quality), flags)
    return flags


# plain NumPy references: slower, obviously right, used to test the kernels

def _per_interval(offsets: np.ndarray, per_block: np.ndarray) -> np.ndarray:
    return np.repeat(per_block, np.diff(offsets))


def check_values_reference(offsets, values, low, high) -> np.ndarray:
    lo, hi = _per_interval(offsets, low), _per_interval(offsets, high)
    flags = np.zeros(len(values), dtype=np.uint32)
    flags[values < 0] |= NEGATIVE
    flags[(values >= 0) & (values < lo)] |= LOW
    flags[values > hi] |= HIGH
    return flags


def check_timing_reference(offsets, start, interval_s, expected_interval, align_offset, now, future_tolerance):
    step = interval_s.astype(np.int64)
    block_flags = np.zeros(len(start), dtype=np.uint32)
    block_flags[expected_interval == 0] |= UNKNOWN_METER
    block_flags[(expected_interval != 0) & (step != expected_interval)] |= INTERVAL_MISMATCH
    block_flags[(start + align_offset) % step != 0] |= MISALIGNED
    flags = _per_interval(offsets, block_flags)
    position = np.arange(offsets[-1]) - _per_interval(offsets, offsets[:-1])
    ends = _per_interval(offsets, start) + (position + 1) * _per_interval(offsets, step)
    flags[ends > now + future_tolerance] |= FUTURE
    return flags


def check_duplicates_reference(meter_index, channel, offsets, start, interval_s, values, version, rank) -> np.ndarray:
    """Walk blocks in (meter, channel, start) order and remember every interval already seen, with the
    version and kind of its first reading."""
    flags = np.zeros(len(values), dtype=np.uint32)
    order = np.lexsort((start, channel, meter_index))
    seen: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    for block in order:
        key = (int(meter_index[block]), int(channel[block]))
        for k, i in enumerate(range(offsets[block], offsets[block + 1])):
            moment = int(start[block]) + k * int(interval_s[block])
            reading = (int(values[i]), int(version[block]), int(rank[i]))
            earlier = seen.get(key + (moment,))
            if earlier is not None and earlier[0] != reading[0] and earlier[1:] == reading[1:]:
                flags[i] |= DUPLICATE
            if earlier is None:
                seen[key + (moment,)] = reading
    return flags


def validate_reference(batch, meter_index, expected_interval, low, high, align_offset, now, future_tolerance):
    """All block rules, plainly: the reference :func:`validate` is tested against."""
    return (check_values_reference(batch.offsets, batch.values, low, high)
            | check_timing_reference(batch.offsets, batch.start, batch.interval_s, expected_interval, align_offset,
                           now, future_tolerance)
            | check_duplicates_reference(meter_index, batch.channel, batch.offsets, batch.start, batch.interval_s,
                               batch.values, block_versions(batch), precedence(batch.quality)))
