"""Validation kernels (Numba) over a batch of interval blocks in CSR layout.

Every kernel has a NumPy reference in :mod:`streams.vee_reference` and a test that both agree on
random input. Inputs are plain arrays; the clock (``now``) is an argument.
"""
from __future__ import annotations

import numba
import numpy as np

from streams.vee_rules import (DUPLICATE, DUPLICATE_LOOKBACK, FUTURE, HIGH, INTERVAL_MISMATCH, LOW,
                               MISALIGNED, NEGATIVE, UNKNOWN_METER)


@numba.njit(cache=True, nogil=True)
def check_values(offsets, values, low, high, flags):
    """Negative, and outside the meter's expected [low, high] per interval."""
    for block in range(offsets.shape[0] - 1):
        lo, hi = low[block], high[block]
        for i in range(offsets[block], offsets[block + 1]):
            value = values[i]
            if value < 0:
                flags[i] |= NEGATIVE
            elif value < lo:
                flags[i] |= LOW
            if value > hi:
                flags[i] |= HIGH


@numba.njit(cache=True, nogil=True)
def check_timing(offsets, start, interval_s, expected_interval, align_offset, now, future_tolerance, flags):
    """Unknown meter, interval length against the meter's, alignment in local time, future intervals."""
    for block in range(offsets.shape[0] - 1):
        step = np.int64(interval_s[block])
        block_flags = np.uint16(0)
        if expected_interval[block] == 0:
            block_flags |= UNKNOWN_METER
        elif step != expected_interval[block]:
            block_flags |= INTERVAL_MISMATCH
        if (start[block] + align_offset[block]) % step != 0:
            block_flags |= MISALIGNED
        limit = now + future_tolerance
        for i in range(offsets[block], offsets[block + 1]):
            end = start[block] + (i - offsets[block] + 1) * step
            flags[i] |= block_flags
            if end > limit:
                flags[i] |= FUTURE


@numba.njit(cache=True, nogil=True)
def check_duplicates(order, meter_index, channel, offsets, start, interval_s, values, flags):
    """Intervals of one meter and channel that two blocks of the batch both carry, with different values.

    ``order`` sorts blocks by (meter, channel, start). The later block's interval is flagged; an
    equal repeat is harmless (storage merges it idempotently) and is not flagged.
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
                    conflict = values[offsets[other] + delta // other_step] != values[i]
                    found = True
                earlier -= 1
            if conflict:
                flags[i] |= DUPLICATE
        end = start[block] + (offsets[block + 1] - offsets[block]) * step
        if end > max_end:
            max_end = end


def validate(batch, meter_index, expected_interval, low, high, align_offset, now: int,
             future_tolerance: int) -> np.ndarray:
    """All rules over one batch; returns per-interval flag bits (uint16, 0 = valid)."""
    flags = np.zeros(batch.read_count, dtype=np.uint16)
    check_values(batch.offsets, batch.values, low, high, flags)
    check_timing(batch.offsets, batch.start, batch.interval_s, expected_interval, align_offset,
                 np.int64(now), np.int64(future_tolerance), flags)
    order = np.lexsort((batch.start, batch.channel, meter_index)).astype(np.int64)
    check_duplicates(order, meter_index, batch.channel, batch.offsets, batch.start, batch.interval_s,
                     batch.values, flags)
    return flags
