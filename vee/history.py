"""Validation of a stored day against its history (Numba): like days are the same weekday of the weeks
before, at the meter's service point (a new meter's first weeks take the days of the meter it replaced).

- high against history: an hour far above the same hour of the like days: an issue for staff, the
  bill goes out;
- low against history: a day far below every like day: information (away from home, or a meter
  slowing down).

The kernel has a plain NumPy reference beside it (``check_history_reference``).
"""
from __future__ import annotations

import numba
import numpy as np

from vee.rules import HIGH_HISTORY, LOW_HISTORY


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
    flags = np.zeros(rows, np.uint32)
    low = np.zeros(rows) if low_share is None else np.asarray(low_share, np.float64)
    check_history_rows(np.ascontiguousarray(hourly_total, np.int64), np.ascontiguousarray(like_hourly, np.int64),
                       np.asarray(like_days, np.int64), np.asarray(factor, np.float64), np.asarray(floor, np.float64),
                       low, hot, flags)
    return flags, hot


def check_history_reference(hourly_total, like_hourly, like_days, factor, floor, low_share=None):
    """Against history, plainly: per row with two like days or more, the hours above factor x the like
    days' most for that hour plus the floor; the day below low_share x the least like day's total."""
    rows = hourly_total.shape[0]
    low_share = np.zeros(rows) if low_share is None else low_share
    hot = np.zeros((rows, 24), bool)
    flags = np.zeros(rows, np.uint32)
    for row in range(rows):
        if like_days[row] >= 2:
            most = like_hourly[row, :like_days[row]].max(axis=0)
            hot[row] = hourly_total[row] > factor[row] * most + floor[row]
            least = like_hourly[row, :like_days[row]].sum(axis=1).min()
            if least > 24 * floor[row] and hourly_total[row].sum() < low_share[row] * least:
                flags[row] |= LOW_HISTORY
    flags |= np.where(hot.any(axis=1), HIGH_HISTORY, 0).astype(np.uint32)
    return flags, hot
