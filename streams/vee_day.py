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

from streams.vee_rules import CONTINUOUS_FLOW, SPIKE

MAX_SLOTS = 100  # a 15-minute fall-back day; 5-minute data is checked per 100-slot chunk by the caller


@numba.njit(cache=True, nogil=True)
def check_spikes(values, present, ratio, floor, flags):
    """``flags[row]`` gets SPIKE when the row's largest value > ratio x its third largest and > floor[row]."""
    for row in range(values.shape[0]):
        first = second = third = np.int64(-1)
        count = 0
        for slot in range(values.shape[1]):
            if not present[row, slot]:
                continue
            count += 1
            value = values[row, slot]
            if value > first:
                third = second
                second = first
                first = value
            elif value > second:
                third = second
                second = value
            elif value > third:
                third = value
        if count >= 3 and first > floor[row] and first > ratio * max(third, 0):
            flags[row] |= SPIKE
    return flags


@numba.njit(cache=True, nogil=True)
def check_continuous_flow(hourly_total, complete, water, flags):
    """``flags[row]`` gets CONTINUOUS_FLOW when a complete water day has use in every one of its 24 hours."""
    for row in range(hourly_total.shape[0]):
        if not (complete[row] and water[row]):
            continue
        flowing = True
        for hour in range(24):
            if hourly_total[row, hour] <= 0:
                flowing = False
                break
        if flowing:
            flags[row] |= CONTINUOUS_FLOW
    return flags


def check_days(values, present, hourly_total, complete, water, spike_candidate, ratio, floor):
    """All day rules; returns per-row flag bits (uint16). Spikes are checked on complete days of the
    services the spike rule applies to (``spike_candidate``)."""
    flags = np.zeros(values.shape[0], dtype=np.uint16)
    mask = present & (complete & spike_candidate)[:, None]
    check_spikes(values, mask, np.float64(ratio), floor, flags)
    check_continuous_flow(hourly_total, complete, water, flags)
    return flags
