"""Estimate the missing reads of stored days (and days with no read at all) before billing them.

Like days come from the four weeks before each day, at the meter's service point (across an exchange,
the days of the meter it replaced); estimated reads go through the ordinary merge
with a quality code naming the method, and each one is recorded in ``read_edits`` (actor
``vee:estimation``), so an actual read that arrives later replaces it and moves the rollups by exactly
the difference.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from rating.calendar import utc_offsets
from meterdata.day_rows import local_midnight
from meterdata.windows import split_row
from storage.attribution import installations_of
from storage import gap_reads
from storage.vee_queue import get_exception
from vee.errors import ExceptionActionRefused
from vee.queue import act, edit_reads
from storage.pg_binary import parse_array
from storage.reads import ExceptionRecord, record_day_exceptions
from storage.vee_thresholds import holidays
from vee.estimation import METHODS, fill_gaps, like_day_average
from vee.register_check import check_registers
from vee.rules import GAP, GAP_RULE, severity

_EPOCH = date(1970, 1, 1)
LIKE_WEEKS = 4


def _weekend(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() >= 5 or day in holidays


def _like_days(stored: dict, meter_id: int, day: date, holidays: frozenset[date], zone: str, start: int,
               slots: int, interval_s: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to LIKE_WEEKS other days of the same day type (earlier ones first), on the target day's slots. On a DST day
    (92 or 100 slots) ordinary days are read by wall-clock time: the repeated hour takes the same
    hour of the like day twice, the skipped hour is not there."""
    normal = 86_400 // interval_s
    wall_slot = None
    if slots != normal:
        moments = start + np.arange(slots, dtype=np.int64) * interval_s
        offsets = utc_offsets(zone, moments)
        wall_slot = np.minimum((moments + offsets - (start + offsets[0])) // interval_s, normal - 1)
    found = []
    # the weeks before first; at the start of the data (a new meter, the first days of a period) the
    # days after, which cycle-close estimation has too
    offsets = [-back for back in range(1, 7 * LIKE_WEEKS + 1)] + list(range(1, 7 * LIKE_WEEKS + 1))
    for offset in offsets:
        other = day + timedelta(days=offset)
        if (meter_id, other) not in stored or _weekend(other, holidays) != _weekend(day, holidays):
            continue
        values, present = stored[(meter_id, other)]
        if len(values) == slots:
            found.append((values, present))
        elif wall_slot is not None and len(values) == normal:
            found.append((values[wall_slot], present[wall_slot]))
        if len(found) == LIKE_WEEKS:
            break
    return found


Tally = Callable[[str, str, int], None]


def fill_missing_reads(conn: psycopg.Connection, meter_ids: list[int], first_day: date, end_day: date,
                       max_linear: int = 8, holidays: frozenset[date] = frozenset(),
                       only: set[int] | None = None, tally: Tally | None = None) -> dict[str, int]:
    """Estimate missing consumption reads of ``meter_ids`` over local days [first_day, end_day)
    (only the intervals starting at ``only``, epoch seconds, when given); returns reads estimated by
    method, and tells ``tally`` (service, method, reads) meter by meter (a metrics counter)."""
    meters = gap_reads.meters_to_fill(conn, meter_ids)
    rows = gap_reads.consumption_days(conn, meter_ids, first_day - timedelta(days=7 * LIKE_WEEKS),
                                      end_day + timedelta(days=7 * LIKE_WEEKS))
    stored: dict[tuple[int, date], tuple[np.ndarray, np.ndarray]] = {}
    for meter_id, day, data in rows:
        stored[(meter_id, day)] = parse_array(data)
    # like days: the meter's own, and its service point's days from the meters before or after it
    like_source = {(meter_id, day): parse_array(data) for meter_id, day, data in gap_reads.point_days(
        conn, meter_ids, first_day - timedelta(days=7 * LIKE_WEEKS), end_day + timedelta(days=7 * LIKE_WEEKS))}
    like_source.update(stored)
    done = {name: 0 for name in METHODS.values()}
    installations = installations_of(conn, meter_ids)
    for meter_id, zone, interval_s, service in meters:
        targets, like_rows, like_masks = _days_with_gaps(stored, like_source, meter_id, zone, interval_s, first_day,
                                                         end_day, holidays)
        targets, like_rows, like_masks = _installed_only(targets, like_rows, like_masks, interval_s,
                                                         installations.get(meter_id, []))
        if not targets:
            continue
        width = max(t[2] for t in targets)
        filled, quality = fill_gaps(_matrix([t[3] for t in targets], width, np.int64),
                                    _matrix([t[4] for t in targets], width, bool), np.array([t[2] for t in targets]),
                                    max_linear, _matrix(like_rows, width, np.int64), _matrix(like_masks, width, bool))
        moments, new_values, codes = _estimates(targets, filled, quality, interval_s, only)
        if not len(moments):
            continue
        for code, name in METHODS.items():
            count = int((codes == code).sum())
            done[name] += count
            if tally is not None and count:
                tally(service, name, count)
        edit_reads(conn, meter_id, zone, 1, moments, interval_s, new_values, "vee:estimation",
                   "missing reads estimated before billing", quality=codes)
        if only is None:
            _record_gaps(conn, meter_id, interval_s, targets, filled, quality)
    return done


def _installed_only(targets: list, like_rows: list, like_masks: list, interval_s: int,
                    installations: list) -> tuple[list, list, list]:
    """Only the gaps while the meter was installed: a slot before its install or after its removal is
    no gap (the meter read nothing there to lose)."""
    kept = ([], [], [])
    for target, like, mask in zip(targets, like_rows, like_masks):
        day, start, slots, values, present = target
        split = split_row(int(start), interval_s, int(slots), installations)
        outside = np.ones(int(slots), bool) if not split.parts else split.outside
        if outside is not None:
            present = present | outside[:len(present)]
            if present[:int(slots)].all():
                continue
            target = (day, start, slots, values, present)
        kept[0].append(target)
        kept[1].append(like)
        kept[2].append(mask)
    return kept


def _days_with_gaps(stored: dict, like_source: dict, meter_id: int, zone: str, interval_s: int, first_day: date,
                    end_day: date, holidays: frozenset[date]) -> tuple[list, list, list]:
    """The meter's days in [first_day, end_day) with a read missing, as (day, start, slots, values,
    present), and each one's like-day average (from ``like_source``: the service point's days) and its
    presence."""
    targets, like_rows, like_masks = [], [], []
    day = first_day
    while day < end_day:
        ordinal = (day - _EPOCH).days
        start = local_midnight(zone, ordinal)
        slots = (local_midnight(zone, ordinal + 1) - start) // interval_s
        values, present = stored.get((meter_id, day), (np.zeros(slots, np.int64), np.zeros(slots, bool)))
        if not present.all():
            history = _like_days(like_source, meter_id, day, holidays, zone, start, slots, interval_s)
            if history:
                like, like_present = like_day_average(np.array([h[0] for h in history]),
                                                      np.array([h[1] for h in history]))
            else:
                like, like_present = np.zeros(slots, np.int64), np.zeros(slots, bool)
            targets.append((day, start, slots, values, present))
            like_rows.append(like)
            like_masks.append(like_present)
        day += timedelta(days=1)
    return targets, like_rows, like_masks


def _matrix(parts: list[np.ndarray], width: int, dtype) -> np.ndarray:
    out = np.zeros((len(parts), width), dtype)
    for number, part in enumerate(parts):
        out[number, :len(part)] = part
    return out


def _estimates(targets: list, filled: np.ndarray, quality: np.ndarray, interval_s: int,
               only: set[int] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(interval starts, estimated values, quality codes) of the slots the fill estimated (those in
    ``only``, when given)."""
    moments, new_values, codes = [], [], []
    for number, (_, start, slots, _, _) in enumerate(targets):
        for slot in np.flatnonzero(quality[number, :slots]):
            if only is not None and start + int(slot) * interval_s not in only:
                continue
            moments.append(start + int(slot) * interval_s)
            new_values.append(int(filled[number, slot]))
            codes.append(int(quality[number, slot]))
    return np.array(moments, np.int64), np.array(new_values, np.int64), np.array(codes, np.int16)


def _record_gaps(conn: psycopg.Connection, meter_id: int, interval_s: int, targets: list, filled: np.ndarray,
                 quality: np.ndarray) -> None:
    """A gap is an exception of its own (information: estimated, the bill goes out), one per meter-day,
    with the estimated values and the method's quality code as evidence; recorded once."""
    meter_no = gap_reads.meter_number(conn, meter_id)
    records = []
    for number, (day, start, slots, _, _) in enumerate(targets):
        estimated = quality[number, :slots] > 0
        if not estimated.any():
            continue
        records.append(ExceptionRecord(meter_no, meter_id, 1, start, interval_s, [GAP_RULE], severity([GAP_RULE]), 0,
                                       [int(v) if e else 0 for v, e in zip(filled[number, :slots], estimated)],
                                       [GAP if e else 0 for e in estimated]))
    record_day_exceptions(conn, records, [GAP_RULE] * len(records))


def fill_period(conn: psycopg.Connection, billing_period_id: int, max_linear: int = 8,
                tally: Tally | None = None) -> dict[str, int]:
    """Check the register reads against the intervals, then estimate the missing reads of every meter of
    the period's billing cycle before it is billed."""
    found = gap_reads.period_meters(conn, billing_period_id)
    if found is None:
        return {}
    first_day, end_day, meter_ids = found
    if not meter_ids:
        return {}
    check_registers(conn, meter_ids, first_day, end_day)  # on the actual reads, before any estimate
    return fill_missing_reads(conn, meter_ids, first_day, end_day, max_linear, holidays=holidays(conn), tally=tally)


def reestimate_exception(conn: psycopg.Connection, exception_id: int, actor: str, reason: str,
                         max_linear: int = 8) -> dict[str, int]:
    """Staff action: estimate the reads an open exception held back, by the same rules as at cycle
    close, and close the exception as ``estimated``."""
    exception = get_exception(conn, exception_id)
    if exception is None or exception.status != "open":
        raise ExceptionActionRefused(f"exception {exception_id} is not open")
    meter = gap_reads.meter_by_number(conn, exception.meter_no)
    if meter is None:
        raise ExceptionActionRefused(f"meter {exception.meter_no} is not installed: map it first")
    start = exception.block_start.astimezone(ZoneInfo(meter[1]))
    end = datetime.fromtimestamp(exception.block_start.timestamp()
                                 + exception.interval_s * len(exception.values), ZoneInfo(meter[1]))
    first = int(exception.block_start.timestamp())
    held_back = {first + position * exception.interval_s for position, flags in enumerate(exception.flags) if flags}
    with conn.transaction():
        done = fill_missing_reads(conn, [meter[0]], start.date(), end.date() + timedelta(days=1), max_linear,
                                  holidays=holidays(conn), only=held_back)
        act(conn, [exception_id], "reestimate", actor, reason, {"estimated": done})
    return done
