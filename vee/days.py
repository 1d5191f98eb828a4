"""Validation of whole stored days (Numba), after the merge: rules that need a complete day.

- spike (Oracle MDM's form): the day's largest interval is more than ``ratio`` times its third largest
  and above a floor; blocks billing until reviewed;
- continuous flow (water): every hour of the day has use, a possible leak: information for the
  customer, not blocking the bill;
- zero consumption: a long run of zero reads (kept only where the premise had use the week before).

The rules against the meter's own history are in :mod:`vee.history`.

Rows are passed as a (rows x 100) matrix with a presence mask, so DST days (92 or 100 slots) fit.
Each kernel has a plain NumPy reference beside it (``*_reference``).
"""
from __future__ import annotations

import numba
import numpy as np

from vee.rules import CONTINUOUS_FLOW, SPIKE, ZERO_RUN

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
    """All day rules; returns per-row flag bits (uint32). Spikes are checked on complete days of the
    services the spike rule applies to (``spike_candidate``)."""
    flags = np.zeros(values.shape[0], dtype=np.uint32)
    if min_zero_run is None:
        min_zero_run = np.zeros(values.shape[0], np.int64)
    ratios = np.asarray(ratio, np.float64)
    if ratios.ndim == 0:
        ratios = np.full(values.shape[0], float(ratio))
    return check_day_rows(values, present, hourly_total, complete, water, spike_candidate, ratios,
                          floor, min_zero_run, flags)


def check_days_reference(values, present, hourly_total, complete, water, spike_candidate, ratio, floor, min_zero_run=None):
    """Day rules, plainly: sort each candidate day's present values; count the hours with use; find the
    longest stretch of zero reads."""
    flags = np.zeros(values.shape[0], dtype=np.uint32)
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
