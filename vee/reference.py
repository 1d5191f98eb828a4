"""Plain NumPy references of the VEE kernels: slower, obviously right, used to test the kernels."""
from __future__ import annotations

import numpy as np

from meterdata.day_rows import precedence
from vee.blocks import block_versions
from vee.rules import (DUPLICATE, FUTURE, HIGH, INTERVAL_MISMATCH, LOW, MISALIGNED, NEGATIVE,
                               UNKNOWN_METER)


def _per_interval(offsets: np.ndarray, per_block: np.ndarray) -> np.ndarray:
    return np.repeat(per_block, np.diff(offsets))


def check_values(offsets, values, low, high) -> np.ndarray:
    lo, hi = _per_interval(offsets, low), _per_interval(offsets, high)
    flags = np.zeros(len(values), dtype=np.uint16)
    flags[values < 0] |= NEGATIVE
    flags[(values >= 0) & (values < lo)] |= LOW
    flags[values > hi] |= HIGH
    return flags


def check_timing(offsets, start, interval_s, expected_interval, align_offset, now, future_tolerance):
    step = interval_s.astype(np.int64)
    block_flags = np.zeros(len(start), dtype=np.uint16)
    block_flags[expected_interval == 0] |= UNKNOWN_METER
    block_flags[(expected_interval != 0) & (step != expected_interval)] |= INTERVAL_MISMATCH
    block_flags[(start + align_offset) % step != 0] |= MISALIGNED
    flags = _per_interval(offsets, block_flags)
    position = np.arange(offsets[-1]) - _per_interval(offsets, offsets[:-1])
    ends = _per_interval(offsets, start) + (position + 1) * _per_interval(offsets, step)
    flags[ends > now + future_tolerance] |= FUTURE
    return flags


def check_duplicates(meter_index, channel, offsets, start, interval_s, values, version, rank) -> np.ndarray:
    """Walk blocks in (meter, channel, start) order and remember every interval already seen, with the
    version and kind of its first reading."""
    flags = np.zeros(len(values), dtype=np.uint16)
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


def validate(batch, meter_index, expected_interval, low, high, align_offset, now, future_tolerance):
    return (check_values(batch.offsets, batch.values, low, high)
            | check_timing(batch.offsets, batch.start, batch.interval_s, expected_interval, align_offset,
                           now, future_tolerance)
            | check_duplicates(meter_index, batch.channel, batch.offsets, batch.start, batch.interval_s,
                               batch.values, block_versions(batch), precedence(batch.quality)))


def check_days(values, present, hourly_total, complete, water, spike_candidate, ratio, floor, min_zero_run=None):
    """Day rules, plainly: sort each candidate day's present values; count the hours with use; find the
    longest stretch of zero reads."""
    from vee.rules import CONTINUOUS_FLOW, SPIKE, ZERO_RUN

    flags = np.zeros(values.shape[0], dtype=np.uint16)
    for row in range(values.shape[0]):
        if complete[row] and spike_candidate[row]:
            day = np.sort(values[row][present[row]])[::-1]
            row_ratio = np.broadcast_to(np.asarray(ratio, np.float64), (values.shape[0],))[row]
            if len(day) >= 3 and day[0] > floor[row] and day[0] > row_ratio * max(day[2], 0):
                flags[row] |= SPIKE
        if complete[row] and water[row] and (hourly_total[row] > 0).all():
            flags[row] |= CONTINUOUS_FLOW
        if complete[row] and min_zero_run is not None and min_zero_run[row] > 0:
            zero = present[row] & (values[row] == 0)
            longest = max((len(run) for run in "".join("1" if z else "0" for z in zero).split("0")), default=0)
            if longest >= min_zero_run[row]:
                flags[row] |= ZERO_RUN
    return flags


def check_history(hourly_total, like_hourly, like_days, factor, floor, low_share=None):
    """Against history, plainly: per row with two like days or more, the hours above factor x the like
    days' most for that hour plus the floor; the day below low_share x the least like day's total."""
    from vee.rules import HIGH_HISTORY, LOW_HISTORY

    rows = hourly_total.shape[0]
    low_share = np.zeros(rows) if low_share is None else low_share
    hot = np.zeros((rows, 24), bool)
    flags = np.zeros(rows, np.uint16)
    for row in range(rows):
        if like_days[row] >= 2:
            most = like_hourly[row, :like_days[row]].max(axis=0)
            hot[row] = hourly_total[row] > factor[row] * most + floor[row]
            least = like_hourly[row, :like_days[row]].sum(axis=1).min()
            if least > 24 * floor[row] and hourly_total[row].sum() < low_share[row] * least:
                flags[row] |= LOW_HISTORY
    flags |= np.where(hot.any(axis=1), HIGH_HISTORY, 0).astype(np.uint16)
    return flags, hot
