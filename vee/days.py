"""Validation of whole stored days (Numba), after the merge: rules that need a complete day.

- spike (Oracle MDM's form): the day's largest interval is more than ``ratio`` times its third largest
  and above a floor; blocks billing until reviewed;
- continuous flow (water): every hour of the day has use, a possible leak: information for the
  customer, not blocking the bill;
- high against history: an hour far above the same hour of the meter's like days (same weekday, the
  weeks before): an issue for staff, the bill goes out.

Rows are passed as a (rows x 100) matrix with a presence mask, so DST days (92 or 100 slots) fit.
Each kernel has a NumPy reference in :mod:`vee.reference`.
"""
from __future__ import annotations

import numba
import numpy as np

from vee.rules import CONTINUOUS_FLOW, HIGH_HISTORY, LOW_HISTORY, SPIKE, ZERO_RUN

MAX_SLOTS = 100  # a 15-minute fall-back day; 5-minute data is checked per 100-slot chunk by the caller


@numba.njit(cache=True, nogil=True)
def check_day_rows(values, present, hourly_total, complete, water, spike_candidate, ratio, floor, min_zero_run,
                   flags):
    """Both day rules, one row at a time.

    Spike: the row's largest value > ratio[row] x its third largest (taken as 0 when negative) and > floor
    (>= 0). Branch-free in two passes: the largest, then how many values reach largest / ratio: at
    most two means the third largest is below it. Continuous flow: a water day with use in all 24 hours.
    Zero run: at least ``min_zero_run[row]`` consecutive zero reads (0: not checked); whether the
    premise was occupied is the caller's to decide from history.
    """
    lowest = np.int64(-(2**62))
    for row in range(values.shape[0]):
        if not complete[row]:
            continue
        if spike_candidate[row]:
            row_values = values[row]
            row_present = present[row]
            largest = lowest
            count = 0
            for slot in range(row_values.shape[0]):
                here = row_present[slot]
                largest = max(largest, row_values[slot] if here else lowest)
                count += here
            reaching = 0
            for slot in range(row_values.shape[0]):
                reaching += row_present[slot] & (max(row_values[slot], 0) * ratio[row] >= largest)
            if count >= 3 and largest > floor[row] and reaching <= 2:
                flags[row] |= SPIKE
        if min_zero_run[row] > 0:
            row_values = values[row]
            row_present = present[row]
            zeros = 0
            for slot in range(row_values.shape[0]):  # branch-free count first: most days have few zeros
                zeros += row_present[slot] & (row_values[slot] == 0)
            if zeros >= min_zero_run[row]:
                run = longest = 0
                for slot in range(row_values.shape[0]):
                    run = (run + 1) * (row_present[slot] & (row_values[slot] == 0))
                    longest = max(longest, run)
                if longest >= min_zero_run[row]:
                    flags[row] |= ZERO_RUN
        if water[row]:
            hours_with_use = 0
            for hour in range(24):
                hours_with_use += hourly_total[row, hour] > 0
            if hours_with_use == 24:
                flags[row] |= CONTINUOUS_FLOW
    return flags


def check_days(values, present, hourly_total, complete, water, spike_candidate, ratio, floor, min_zero_run=None):
    """All day rules; returns per-row flag bits (uint16). Spikes are checked on complete days of the
    services the spike rule applies to (``spike_candidate``)."""
    flags = np.zeros(values.shape[0], dtype=np.uint16)
    if min_zero_run is None:
        min_zero_run = np.zeros(values.shape[0], np.int64)
    ratios = np.asarray(ratio, np.float64)
    if ratios.ndim == 0:
        ratios = np.full(values.shape[0], float(ratio))
    return check_day_rows(values, present, hourly_total, complete, water, spike_candidate, ratios,
                          floor, min_zero_run, flags)


@numba.njit(cache=True, nogil=True)
def check_history_rows(hourly_total, like_hourly, like_days, factor, floor, low_share, hot_hours, flags):
    """Against the meter's own history (``like_hourly[row, :like_days[row]]``, at least two like days):
    high, an hour whose use is above factor x the most that hour used on any like day plus ``floor``
    (the hours marked in ``hot_hours``); low, a day below ``low_share`` x the least any like day used,
    when every like day used more than 24 floors."""
    for row in range(hourly_total.shape[0]):
        if like_days[row] < 2:
            continue
        day_total = np.int64(0)
        least = np.int64(2**62)
        for day in range(like_days[row]):
            total = np.int64(0)
            for hour in range(24):
                total += like_hourly[row, day, hour]
            least = min(least, total)
        for hour in range(24):
            day_total += hourly_total[row, hour]
        if least > 24 * floor[row] and day_total < low_share[row] * least:
            flags[row] |= LOW_HISTORY
        for hour in range(24):
            most = np.int64(0)
            for day in range(like_days[row]):
                most = max(most, like_hourly[row, day, hour])
            if hourly_total[row, hour] > factor[row] * most + floor[row]:
                hot_hours[row, hour] = True
                flags[row] |= HIGH_HISTORY
    return flags


def check_history(hourly_total, like_hourly, like_days, factor, floor, low_share=None):
    """(flags, hot hours) of the rules against history; see :func:`check_history_rows`."""
    rows = hourly_total.shape[0]
    hot = np.zeros((rows, 24), np.bool_)
    flags = np.zeros(rows, np.uint16)
    low = np.zeros(rows) if low_share is None else np.asarray(low_share, np.float64)
    check_history_rows(np.ascontiguousarray(hourly_total, np.int64), np.ascontiguousarray(like_hourly, np.int64),
                       np.asarray(like_days, np.int64), np.asarray(factor, np.float64), np.asarray(floor, np.float64),
                       low, hot, flags)
    return flags, hot
