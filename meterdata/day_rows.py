"""Group validated intervals into day rows (meter, channel, local day) and merge them with stored rows.

Pure NumPy: the local day of an interval is found by a binary search among the UTC instants of
local midnights, so DST days get 92 or 100 fifteen-minute slots by construction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

_EPOCH_DAY = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=200_000)
def local_midnight(zone: str, day_ordinal: int) -> int:
    """Epoch seconds of the start of local day ``day_ordinal`` (days since 1970-01-01) in ``zone``."""
    day = date.fromordinal(day_ordinal + _EPOCH_DAY)
    return int(datetime.combine(day, time(0), ZoneInfo(zone)).timestamp())


def midnights(zone: str, first_ordinal: int, last_ordinal: int) -> np.ndarray:
    return np.fromiter((local_midnight(zone, d) for d in range(first_ordinal, last_ordinal + 1)),
                       dtype=np.int64, count=last_ordinal - first_ordinal + 1)


def local_days(zone: str, moments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local day ordinal (days since 1970-01-01) of each moment, and that day's start (epoch s)."""
    if not len(moments):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # UTC offsets lie within +-1 day: search the local midnights around the UTC dates
    first = int(moments.min() // 86400) - 1
    last = int(moments.max() // 86400) + 2
    starts = midnights(zone, first, last)
    index = np.searchsorted(starts, moments, side="right") - 1
    return index + first, starts[index]


@dataclass
class DayRows:
    """New intervals grouped by row. Row ``r`` has ``slots[r]`` slots; interval ``i`` goes to
    ``(row_of[i], slot_of[i])``."""

    meter_id: np.ndarray  # int64 per row
    channel: np.ndarray  # int16 per row
    day_ordinal: np.ndarray  # int64 per row, days since 1970-01-01
    day_start: np.ndarray  # int64 per row, epoch seconds
    interval_s: np.ndarray  # int32 per row
    slots: np.ndarray  # int32 per row
    row_of: np.ndarray
    slot_of: np.ndarray
    values: np.ndarray
    quality: np.ndarray
    version: np.ndarray  # int64 per interval: the reading's version (see merge_rows)
    zone: list[str] | None = None  # per row
    # bool per interval: the source gave the version (else it is the arrival time); None: all given
    version_given: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.meter_id)

    def local_day(self, row: int) -> date:
        return date.fromordinal(int(self.day_ordinal[row]) + _EPOCH_DAY)


def group_days(meter_id: np.ndarray, channel: np.ndarray, moment: np.ndarray, interval_s: np.ndarray,
               zone_index: np.ndarray, zones: list[str], values: np.ndarray, quality: np.ndarray,
               version: np.ndarray, version_given: np.ndarray | None = None) -> DayRows:
    """Per-interval columns (all the same length) to day rows; interval ``i`` is in zone
    ``zones[zone_index[i]]``."""
    count = len(moment)
    day = np.zeros(count, np.int64)
    day_start = np.zeros(count, np.int64)
    for number, zone in enumerate(zones):
        mask = zone_index == number
        if mask.any():
            day[mask], day_start[mask] = local_days(zone, moment[mask])
    key = (meter_id.astype(np.int64) << 25) | (channel.astype(np.int64) << 17) | day
    _, first_index, row_of = np.unique(key, return_index=True, return_inverse=True)
    step = interval_s.astype(np.int64)
    row_start = day_start[first_index]
    row_step = step[first_index]
    next_start = np.fromiter((local_midnight(zones[z], int(d) + 1)
                              for z, d in zip(zone_index[first_index], day[first_index])),
                             dtype=np.int64, count=len(first_index))
    return DayRows(
        meter_id=meter_id[first_index].astype(np.int64),
        channel=channel[first_index].astype(np.int16),
        day_ordinal=day[first_index],
        day_start=row_start,
        interval_s=row_step.astype(np.int32),
        slots=((next_start - row_start) // row_step).astype(np.int32),
        row_of=row_of.reshape(-1),
        slot_of=(moment - day_start) // step,
        values=values,
        quality=quality,
        version=np.asarray(version, np.int64),
        zone=[zones[z] for z in zone_index[first_index]],
        version_given=version_given,
    )


@lru_cache(maxsize=100_000)
def wall_clock_hours(zone: str, day_start: int, interval_s: int, slots: int) -> np.ndarray:
    """Local wall-clock hour (0-23) of each slot of a day row: on a fall-back day two slots share an
    hour, on a spring-forward day one hour has none."""
    info = ZoneInfo(zone)
    starts = day_start + np.arange(slots, dtype=np.int64) * interval_s
    hours = np.fromiter((datetime.fromtimestamp(int(t), info).hour for t in starts), np.int64, slots)
    hours.setflags(write=False)
    return hours


def hourly_buckets(values: np.ndarray, present: np.ndarray, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum and largest value per wall-clock hour (int64, 24 each) of the values present."""
    per_hour, extra = divmod(len(values), 24)
    if not extra and per_hour and present.all() and hours[0] == 0 and hours[-1] == 23:
        # an ordinary day with every read: hours are consecutive equal runs
        grid = values.reshape(24, per_hour)
        return grid.sum(axis=1), grid.max(axis=1)
    total = np.zeros(24, np.int64)
    peak = np.zeros(24, np.int64)
    np.add.at(total, hours[present], values[present])
    np.maximum.at(peak, hours[present], values[present])
    return total, peak


ESTIMATED_QUALITY = (201, 299)  # quality codes of reads VEE estimated (the code names the method)
ESTIMATED_AT_SOURCE = 1  # a read the head-end (or the file it came in) says it estimated


def estimated_count(quality: np.ndarray, present: np.ndarray) -> int:
    """Reads that are estimates, whoever estimated them: VEE (201..299) or the head-end (1). A bill
    that priced any is marked estimated, and trued up once actual reads replace them."""
    low, high = ESTIMATED_QUALITY
    return int(np.count_nonzero(present & (((quality >= low) & (quality <= high)) | (quality == ESTIMATED_AT_SOURCE))))


STAFF_EDIT_QUALITY = 200  # a value staff entered (an override)
# which reading of an interval wins: a staff edit over anything from a meter, an actual over an estimate
# (the head-end's or VEE's); within one kind, the newer version (a tie: the later arrival)
PRECEDENCE_STAFF, PRECEDENCE_ACTUAL, PRECEDENCE_ESTIMATE = 3, 2, 1


def precedence(quality: np.ndarray) -> np.ndarray:
    """Per read, how strongly it holds its slot (see PRECEDENCE_*)."""
    quality = np.asarray(quality)
    low, high = ESTIMATED_QUALITY
    estimated = ((quality >= low) & (quality <= high)) | (quality == ESTIMATED_AT_SOURCE)
    return np.where(quality == STAFF_EDIT_QUALITY, PRECEDENCE_STAFF,
                    np.where(estimated, PRECEDENCE_ESTIMATE, PRECEDENCE_ACTUAL)).astype(np.int8)


_VERSION_RUN = np.dtype([("slot", "<u2"), ("version", "<i8")])


def pack_versions(version: np.ndarray) -> bytes:
    """Per-slot versions as runs (first slot, version): a day row's slots come in a few blocks."""
    version = np.asarray(version, np.int64)
    if not len(version):
        return b""
    starts = np.flatnonzero(np.concatenate(([True], version[1:] != version[:-1])))
    runs = np.empty(len(starts), _VERSION_RUN)
    runs["slot"], runs["version"] = starts, version[starts]
    return runs.tobytes()


def unpack_versions(packed: bytes | None, slots: int) -> np.ndarray:
    """The inverse of :func:`pack_versions`; a row stored before versions existed has version 0."""
    if not packed:
        return np.zeros(slots, np.int64)
    runs = np.frombuffer(packed, _VERSION_RUN)
    lengths = np.diff(np.append(runs["slot"].astype(np.int64), slots))
    return np.repeat(runs["version"].astype(np.int64), lengths)


@dataclass
class StoredRow:
    values: np.ndarray  # int64 per slot (0 where absent)
    present: np.ndarray  # bool per slot
    quality: np.ndarray  # int16 per slot
    version: np.ndarray | None = None  # int64 per slot (None: a row stored before versions, all 0)


@dataclass
class MergedRow:
    values: np.ndarray  # int64 per slot (0 where absent)
    present: np.ndarray  # bool per slot
    quality: np.ndarray  # int16 per slot
    total: int
    read_count: int
    delta_total: int  # change against the stored row: what rollups must add
    delta_count: int
    changed: bool  # differs from the stored row (a new row always does)
    delta_estimated: int = 0  # change in the number of estimated reads
    version: np.ndarray | None = None  # int64 per slot
    superseded: int = 0  # new reads not taken: the stored value holds its slot more strongly


def merge_rows(rows: DayRows, stored: dict[int, StoredRow]) -> list[MergedRow]:
    """Merge each new row with its stored twin, if any.

    A new read replaces a stored one only if it holds the slot at least as strongly: by
    :func:`precedence` first (staff edit, actual, estimate), then by version. So a redelivered block
    yields the stored row again, unchanged, with a delta of zero; a stale resend of an older version
    changes nothing after a correction, in whichever order the two arrive; an estimate never
    replaces an actual, and nothing from a meter replaces a staff edit. Among reads of one slot in the
    same batch the strongest wins (a tie: the later one).
    """
    strengths = precedence(rows.quality)
    # by row, and within a row weakest first (ties in batch order), so that of two reads of one slot the
    # strongest is assigned last
    order = np.lexsort((rows.version, strengths, rows.row_of))
    bounds = np.searchsorted(rows.row_of[order], np.arange(len(rows) + 1))
    merged = []
    for row in range(len(rows)):
        slots = int(rows.slots[row])
        take = order[bounds[row]:bounds[row + 1]]
        strength = strengths[take]
        slot_index = rows.slot_of[take]
        incoming = rows.version[take]
        given = np.ones(len(take), bool) if rows.version_given is None else rows.version_given[take]
        newer = False
        previous = stored.get(row)
        superseded = 0
        if previous is None:
            values = np.zeros(slots, np.int64)
            present = np.zeros(slots, bool)
            quality = np.zeros(slots, np.int16)
            version = np.zeros(slots, np.int64)
            old_total = old_count = old_estimated = 0
        else:
            values, present, quality = previous.values.copy(), previous.present.copy(), previous.quality.copy()
            version = previous.version.copy() if previous.version is not None else np.zeros(slots, np.int64)
            old_total, old_count = int(previous.values[previous.present].sum()), int(previous.present.sum())
            old_estimated = estimated_count(previous.quality, previous.present)
            held = precedence(quality[slot_index])
            wins = ~present[slot_index] | (strength > held) | ((strength == held) & (incoming >= version[slot_index]))
            superseded = int(np.count_nonzero(~wins))
            take, slot_index, incoming, given = take[wins], slot_index[wins], incoming[wins], given[wins]
            # a source's newer version of the same value is stored too (an older one arriving later must
            # lose to it); a mere later arrival of the same value is not worth a write
            newer = bool(np.any(given & (incoming > version[slot_index])))
        values[slot_index] = rows.values[take]
        quality[slot_index] = rows.quality[take]
        version[slot_index] = incoming
        present[slot_index] = True
        values[~present] = 0
        total, count = int(values[present].sum()), int(present.sum())
        changed = previous is None or newer or previous.version is None or not (
            np.array_equal(values, previous.values) and np.array_equal(present, previous.present)
            and np.array_equal(quality, previous.quality))
        merged.append(MergedRow(values, present, quality, total, count, total - old_total, count - old_count,
                                changed, estimated_count(quality, present) - old_estimated, version, superseded))
    return merged
