"""Estimation of missing intervals in stored day rows (Numba, with a plain reference).

- a gap of at most ``max_linear`` intervals between two reads: linear interpolation;
- a longer gap, or one at the day's edge, where like days are known: their average for each slot
  (like days: the same day type, weekday or weekend and holiday, in the weeks before);
- a gap at the day's edge of at most ``max_linear`` intervals without like days: the nearest read
  repeated (flat fill);
- anything else stays missing, for staff.

Estimated values are integers in the meter's unit, rounded half up, and carry a quality code that
names the method; an actual read arriving later replaces them through the ordinary merge.
"""
from __future__ import annotations

import numba
import numpy as np

LINEAR, FLAT, LIKE_DAY = 201, 202, 203  # quality codes of estimated reads (200 = edited by staff)
METHODS = {LINEAR: "linear", FLAT: "flat", LIKE_DAY: "like_day"}


@numba.njit(cache=True, nogil=True)
def _fill(values, present, slots, max_linear, like, like_present, out_values, out_quality):
    for row in range(values.shape[0]):
        count = slots[row]
        slot = 0
        while slot < count:
            if present[row, slot]:
                slot += 1
                continue
            first = slot
            while slot < count and not present[row, slot]:
                slot += 1
            last = slot  # the gap is [first, last)
            length = last - first
            before = first - 1
            after = last if last < count else -1
            like_ok = True
            for k in range(first, last):
                if not like_present[row, k]:
                    like_ok = False
                    break
            if before >= 0 and after >= 0 and length <= max_linear:
                a = values[row, before]
                b = values[row, after]
                for k in range(first, last):
                    step = k - before
                    # round half up of (a * (n - step) + b * step) / n, in integers
                    n = length + 1
                    numerator = a * (n - step) + b * step
                    out_values[row, k] = (2 * numerator + n) // (2 * n)
                    out_quality[row, k] = LINEAR
            elif like_ok:
                for k in range(first, last):
                    out_values[row, k] = like[row, k]
                    out_quality[row, k] = LIKE_DAY
            elif length <= max_linear and (before >= 0 or after >= 0):
                edge = values[row, before] if before >= 0 else values[row, after]
                for k in range(first, last):
                    out_values[row, k] = edge
                    out_quality[row, k] = FLAT


def fill_gaps(values: np.ndarray, present: np.ndarray, slots: np.ndarray, max_linear: int,
              like: np.ndarray | None = None, like_present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(rows x width) values with a presence mask and each row's slot count; returns the estimated values
    and their quality codes (0 where nothing was estimated)."""
    out_values = np.zeros_like(values)
    out_quality = np.zeros(values.shape, np.int16)
    if like is None:
        like = np.zeros_like(values)
        like_present = np.zeros(values.shape, bool)
    _fill(values, present, slots.astype(np.int64), np.int64(max_linear), like, like_present, out_values, out_quality)
    return out_values, out_quality


def like_day_average(history: np.ndarray, history_present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per slot, the average (half up) of the like days (``history``: days x slots) that have it."""
    counts = history_present.sum(axis=0)
    totals = np.where(history_present, history, 0).sum(axis=0)
    average = (2 * totals + np.maximum(counts, 1)) // (2 * np.maximum(counts, 1))
    return average.astype(np.int64), counts > 0


def fill_gaps_reference(values, present, slots, max_linear, like=None, like_present=None):
    """The same rules, written plainly with Python integers."""
    out_values = np.zeros_like(values)
    out_quality = np.zeros(values.shape, np.int16)
    for row in range(values.shape[0]):
        count = int(slots[row])
        gaps, slot = [], 0
        while slot < count:
            if present[row, slot]:
                slot += 1
                continue
            start = slot
            while slot < count and not present[row, slot]:
                slot += 1
            gaps.append((start, slot))
        for first, last in gaps:
            length = last - first
            before = first - 1 if first > 0 else None
            after = last if last < count else None
            has_like = like is not None and all(like_present[row, k] for k in range(first, last))
            if before is not None and after is not None and length <= max_linear:
                a, b, n = int(values[row, before]), int(values[row, after]), length + 1
                for k in range(first, last):
                    step = k - before
                    out_values[row, k] = (2 * (a * (n - step) + b * step) + n) // (2 * n)
                    out_quality[row, k] = LINEAR
            elif has_like:
                out_values[row, first:last] = like[row, first:last]
                out_quality[row, first:last] = LIKE_DAY
            elif length <= max_linear and (before is not None or after is not None):
                out_values[row, first:last] = values[row, before if before is not None else after]
                out_quality[row, first:last] = FLAT
    return out_values, out_quality
