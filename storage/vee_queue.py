"""The VEE exception queue staff work: list and filter, accept, release, override with edited values,
reopen. Every action is recorded with who, when and why; edited reads keep their old value."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from meterdata.day_rows import STAFF_EDIT_QUALITY, group_days
from storage.errors import ExceptionActionRefused  # noqa: F401  (raised here; callers import it from here)
from storage.reads import store_batch
from storage.schema import PartitionManager

QUALITY_EDITED = STAFF_EDIT_QUALITY  # codes 200 and up are the project's own: 200 = edited by staff
STATUS_AFTER = {"accept": "accepted", "release": "released", "override": "overridden", "reopen": "open",
                "reestimate": "estimated"}


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    meter_no: str
    account_no: str | None
    channel: int
    block_start: datetime
    interval_s: int
    rules: list[str]
    severity: str
    flagged_count: int
    status: str
    values: list[int]
    flags: list[int]


_SELECT = ("select e.id, e.meter_no, a.account_no, e.channel, e.block_start, e.interval_s, e.rules, e.severity, "
           "e.flagged_count, e.status, e.values, e.flags from vee_exceptions e "
           "left join meters m on m.id = e.meter_id left join service_agreements sa on sa.id = m.service_agreement_id "
           "left join accounts a on a.id = sa.account_id ")


def list_exceptions(conn: psycopg.Connection, status: str | None = "open", rule: str | None = None,
                    severity: str | None = None, account_no: str | None = None, meter_no: str | None = None,
                    limit: int = 50) -> list[ExceptionRow]:
    conditions, params = [], []
    for clause, value in (("e.status = %s", status), ("%s = any(e.rules)", rule), ("e.severity = %s", severity),
                          ("a.account_no = %s", account_no), ("e.meter_no = %s", meter_no)):
        if value is not None:
            conditions.append(clause)
            params.append(value)
    where = ("where " + " and ".join(conditions) + " ") if conditions else ""
    rows = conn.execute(_SELECT + where + "order by e.id limit %s", (*params, limit)).fetchall()
    return [ExceptionRow(*row) for row in rows]


def get_exception(conn: psycopg.Connection, exception_id: int) -> ExceptionRow | None:
    row = conn.execute(_SELECT + "where e.id = %s", (exception_id,)).fetchone()
    return None if row is None else ExceptionRow(*row)


def act(conn: psycopg.Connection, exception_ids: list[int], action: str, actor: str, reason: str,
        details: dict | None = None) -> int:
    """Move exceptions to the action's status and record the action; returns how many moved. Only open
    exceptions can be accepted, released or overridden; any can be reopened."""
    if action not in STATUS_AFTER:
        raise ExceptionActionRefused(f"unknown action {action!r}")
    if not actor.strip() or not reason.strip():
        raise ExceptionActionRefused("every action needs who and why")
    allowed = "true" if action == "reopen" else "status = 'open'"
    with conn.transaction():
        moved = conn.execute(f"update vee_exceptions set status = %s where id = any(%s) and {allowed} returning id",
                             (STATUS_AFTER[action], exception_ids)).fetchall()
        for (exception_id,) in moved:
            conn.execute("insert into exception_actions (exception_id, action, actor, reason, details) "
                         "values (%s, %s, %s, %s, %s)", (exception_id, action, actor, reason, Jsonb(details or {})))
    return len(moved)


def history(conn: psycopg.Connection, exception_id: int) -> list[tuple]:
    return conn.execute("select action, actor, reason, details, acted_at from exception_actions "
                        "where exception_id = %s order by id", (exception_id,)).fetchall()


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
    meter = conn.execute("select m.id, m.service_agreement_id, m.zone from meters m where m.meter_no = %s",
                         (exception.meter_no,)).fetchone()
    if meter is None:
        raise ExceptionActionRefused(f"meter {exception.meter_no} is not installed: map it first")
    start = int(exception.block_start.timestamp())
    slots = sorted(edits)
    moments = np.array([start + slot * exception.interval_s for slot in slots], dtype=np.int64)
    values = np.array([edits[slot] for slot in slots], dtype=np.int64)
    with conn.transaction():
        written = edit_reads(conn, meter[0], meter[1], meter[2], exception.channel, moments, exception.interval_s,
                             values, actor, reason, exception_id)
        act(conn, [exception_id], "override", actor, reason, {"positions": slots, "values": values.tolist()})
    return written


def edit_reads(conn: psycopg.Connection, meter_id: int, agreement_id: int, zone: str, channel: int,
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
    with conn.transaction():
        old = {}
        for moment in moments.tolist():
            local = datetime.fromtimestamp(moment, ZoneInfo(zone))
            found = conn.execute(
                "select values[(extract(epoch from %s::timestamptz - day_start)::bigint / interval_s)::int + 1] "
                "from interval_blocks where meter_id = %s and channel = %s and local_day = %s",
                (datetime.fromtimestamp(moment, timezone.utc), meter_id, channel, local.date())).fetchone()
            old[moment] = None if found is None else found[0]
        store_batch(conn, rows, np.full(len(rows), agreement_id, np.int64), [], trace_replacements=False)
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into read_edits (meter_id, channel, interval_start, old_value, new_value, exception_id, "
                "actor, reason) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                [(meter_id, channel, datetime.fromtimestamp(m, timezone.utc), old[m], int(v), exception_id, actor,
                  reason) for m, v in zip(moments.tolist(), values.tolist())])
    return count
