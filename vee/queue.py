"""The VEE exception queue staff work: list and filter, accept, release, override with edited values,
reopen. Every action is recorded with who, when and why; edited (and estimated) reads go through the
same merge as streamed ones and keep their old value."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from meterdata.day_rows import STAFF_EDIT_QUALITY, group_days
from storage import vee_queue as stored
from storage.reads import store_batch
from storage.schema import PartitionManager
from storage.vee_queue import get_exception
from vee.errors import ExceptionActionRefused

QUALITY_EDITED = STAFF_EDIT_QUALITY  # codes 200 and up are the project's own: 200 = edited by staff
STATUS_AFTER = {"accept": "accepted", "release": "released", "override": "overridden", "reopen": "open",
                "reestimate": "estimated"}


LIKE_WEEKS = 4  # the evidence compares a day with the same weekday of this many weeks before


def evidence(conn: psycopg.Connection, exception: stored.ExceptionRow) -> dict:
    """What the exception's block looks like against the meter's like days: for each slot its time
    (local), value, rule flags, and the mean of the same slot on the same weekday of the weeks before
    (None where those days have no read), with the like days used."""
    place = stored.exception_place(conn, exception.id)
    zone = ZoneInfo(place[1]) if place else timezone.utc
    start = exception.block_start.astimezone(zone)
    day = start.date()
    first = int((start - datetime.combine(day, datetime.min.time(), zone)).total_seconds()) // exception.interval_s
    wanted = [date.fromordinal(day.toordinal() - 7 * week) for week in range(1, LIKE_WEEKS + 1)]
    found = stored.day_values(conn, place[0], exception.channel, exception.interval_s, wanted) if place else {}
    slots = []
    for k, (value, flags) in enumerate(zip(exception.values, exception.flags)):
        seen = [values[first + k] for values in found.values()
                if first + k < len(values) and values[first + k] is not None]
        slots.append({"start": (exception.block_start + timedelta(seconds=k * exception.interval_s))
                      .astimezone(zone).isoformat(), "value": value, "flags": flags,
                      "like_day_mean": round(sum(seen) / len(seen), 1) if seen else None})
    return {"zone": str(zone), "like_days": sorted(d.isoformat() for d in found), "slots": slots}


def act(conn: psycopg.Connection, exception_ids: list[int], action: str, actor: str, reason: str,
        details: dict | None = None) -> int:
    """Move exceptions to the action's status and record the action; returns how many moved. Only open
    exceptions can be accepted, released or overridden; any can be reopened."""
    if action not in STATUS_AFTER:
        raise ExceptionActionRefused(f"unknown action {action!r}")
    if not actor.strip() or not reason.strip():
        raise ExceptionActionRefused("every action needs who and why")
    with conn.transaction():
        return stored.move(conn, exception_ids, STATUS_AFTER[action], action != "reopen", action, actor, reason,
                           details or {})


def override(conn: psycopg.Connection, exception_id: int, edits: dict[int, int], actor: str, reason: str) -> int:
    """Store staff values for positions of the exception's block (``{position: value}``) as edited reads,
    moving rollups by exactly the change, and close the exception; returns reads written."""
    exception = get_exception(conn, exception_id)
    if exception is None:
        raise ExceptionActionRefused(f"no exception {exception_id}")
    if exception.status != "open":
        raise ExceptionActionRefused(f"exception {exception_id} is {exception.status}, not open")
    if not edits or any(not 0 <= slot < len(exception.values) for slot in edits):
        raise ExceptionActionRefused(f"positions are 0..{len(exception.values) - 1}")
    if any(value < 0 for value in edits.values()):
        raise ExceptionActionRefused("an edited read is not negative")
    meter = stored.installed_meter(conn, exception.meter_no)
    if meter is None:
        raise ExceptionActionRefused(f"meter {exception.meter_no} is not installed: map it first")
    start = int(exception.block_start.timestamp())
    slots = sorted(edits)
    moments = np.array([start + slot * exception.interval_s for slot in slots], dtype=np.int64)
    values = np.array([edits[slot] for slot in slots], dtype=np.int64)
    with conn.transaction():
        written = edit_reads(conn, meter[0], meter[1], exception.channel, moments, exception.interval_s,
                             values, actor, reason, exception_id)
        act(conn, [exception_id], "override", actor, reason, {"positions": slots, "values": values.tolist()})
    return written


def edit_reads(conn: psycopg.Connection, meter_id: int, zone: str, channel: int,
               moments: np.ndarray, interval_s: int, values: np.ndarray, actor: str, reason: str,
               exception_id: int | None = None, quality: np.ndarray | int = QUALITY_EDITED) -> int:
    """Merge edited (or estimated) reads through the same path as streamed ones, recording each old and
    new value: reads are never overwritten without a trace."""
    count = len(moments)
    rows = group_days(np.full(count, meter_id, np.int64), np.full(count, channel, np.int16), moments,
                      np.full(count, interval_s, np.int32), np.zeros(count, np.int64), [zone], values,
                      np.broadcast_to(np.asarray(quality, np.int16), (count,)).copy(),
                      np.full(count, int(time.time() * 1000), np.int64))  # the edit's time is its version
    PartitionManager(conn).ensure(conn, {rows.local_day(r) for r in range(len(rows))})
    info = ZoneInfo(zone)
    with conn.transaction():
        old = {moment: stored.stored_value(conn, meter_id, channel, datetime.fromtimestamp(moment, timezone.utc),
                                           datetime.fromtimestamp(moment, info).date())
               for moment in moments.tolist()}
        store_batch(conn, rows, [], trace_replacements=False)
        stored.record_edits(conn, meter_id, channel, [(m, old[m], int(v)) for m, v in zip(moments.tolist(),
                                                                                          values.tolist())],
                            exception_id, actor, reason)
    return count
