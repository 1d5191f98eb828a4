"""Validation of whole stored days (Numba), after the merge: rules that need a complete day.

- spike (Oracle MDM's form): the day's largest interval is more than ``ratio`` times its third largest
  and above a floor; blocks billing until reviewed;
- continuous flow (water): every hour of the day has use, a possible leak: information for the
  customer, not blocking the bill.

Rows are passed as a (rows x 100) matrix with a presence mask, so DST days (92 or 100 slots) fit.
Each kernel has a NumPy reference in :mod:`streams.vee_reference`.
"""
from __future__ import annotations

import numba
import numpy as np

from streams.vee_rules import CONTINUOUS_FLOW, SPIKE, ZERO_RUN

MAX_SLOTS = 100  # a 15-minute fall-back day; 5-minute data is checked per 100-slot chunk by the caller


@numba.njit(cache=True, nogil=True)
def check_day_rows(values, present, hourly_total, complete, water, spike_candidate, ratio, floor, min_zero_run,
                   flags):
    """Both day rules, one row at a time.

    Spike: the row's largest value > ratio x its third largest (taken as 0 when negative) and > floor
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
                reaching += row_present[slot] & (max(row_values[slot], 0) * ratio >= largest)
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
    return check_day_rows(values, present, hourly_total, complete, water, spike_candidate, np.float64(ratio),
                          floor, min_zero_run, flags)
