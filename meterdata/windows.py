"""Which slots of a day row fall inside a meter's installations: the rule that gives every read to the
service point its meter was installed at when the interval began."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meterdata.day_rows import estimated_count


@dataclass(frozen=True)
class Installation:
    service_point_id: int
    installed_at: int  # epoch seconds, included
    removed_at: int | None  # epoch seconds, excluded; None while installed

    def covers(self, first: int, end: int) -> bool:
        return self.installed_at <= first and (self.removed_at is None or self.removed_at >= end)

    def overlaps(self, first: int, end: int) -> bool:
        return self.installed_at < end and (self.removed_at is None or self.removed_at > first)


@dataclass(frozen=True)
class Split:
    """A day row's slots by service point: ``parts`` pairs a point with the mask of its slots (None: the
    whole row); ``outside`` masks the slots of no installation (None: there are none)."""

    parts: list[tuple[int, np.ndarray | None]]
    outside: np.ndarray | None

    def slots_at(self, point: int, slots: int) -> np.ndarray:
        """The mask of the row's slots at ``point`` (all False when none are)."""
        mask = np.zeros(slots, bool)
        for part_point, part in self.parts:
            if part_point == point:
                mask |= True if part is None else part
        return mask


def split_row(day_start: int, interval_s: int, slots: int, installations: list[Installation]) -> Split:
    """Split a row of ``slots`` intervals from ``day_start`` by the meter's installations; an interval
    belongs to the installation in force when it begins."""
    end = day_start + slots * interval_s
    for installation in installations:
        if installation.covers(day_start, end):
            return Split([(installation.service_point_id, None)], None)
    starts = day_start + np.arange(slots, dtype=np.int64) * interval_s
    claimed = np.zeros(slots, bool)
    parts: list[tuple[int, np.ndarray | None]] = []
    for installation in installations:
        if not installation.overlaps(day_start, end):
            continue
        mask = starts >= installation.installed_at
        if installation.removed_at is not None:
            mask &= starts < installation.removed_at
        mask &= ~claimed
        if mask.any():
            claimed |= mask
            parts.append((installation.service_point_id, mask))
    return Split(parts, None if claimed.all() else ~claimed)


def masked_totals(values: np.ndarray, present: np.ndarray, quality: np.ndarray,
                  mask: np.ndarray | None) -> tuple[int, int, int]:
    """(sum, read count, estimated count) of the present values in ``mask`` (None: all of them)."""
    keep = present if mask is None else present & mask
    return int(values[keep].sum()), int(np.count_nonzero(keep)), estimated_count(quality, keep)
