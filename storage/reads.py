"""Store one validated batch in one transaction: merge day rows idempotently, move the usage rollups
by exactly the change, record VEE exceptions. The caller commits the Kafka offsets afterwards."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import numpy as np
import psycopg

from storage.day_rows import DayRows, merge_rows

_EPOCH_DAY = date(1970, 1, 1).toordinal()
_BLOCK_COLUMNS = "meter_id, channel, local_day, day_start, interval_s, values, quality, total, read_count"
_BLOCK_TYPES = ["int8", "int2", "date", "timestamptz", "int4", "int8[]", "int2[]", "int8", "int4"]


@dataclass(frozen=True)
class ExceptionRecord:
    meter_no: str
    meter_id: int | None
    channel: int
    block_start: int  # epoch seconds
    interval_s: int
    rules: list[str]
    severity: str
    flagged_count: int
    values: list[int]
    flags: list[int]
    source: tuple[str, int, int] | None = None  # topic, partition, offset


@dataclass
class StoreResult:
    rows_inserted: int = 0
    rows_updated: int = 0
    reads_added: int = 0  # net new reads stored (a redelivery adds 0)
    exceptions_recorded: int = 0
    touched: set[tuple[int, date]] = field(default_factory=set)  # (service agreement, local day)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc)


def store_batch(conn: psycopg.Connection, rows: DayRows, agreement_of_row: np.ndarray,
                exceptions: list[ExceptionRecord]) -> StoreResult:
    """Runs inside one transaction; raises on any database error with nothing written."""
    result = StoreResult()
    with conn.transaction():
        days = [rows.local_day(r) for r in range(len(rows))]
        stored = _lock_stored_rows(conn, rows, days)
        merged = merge_rows(rows, stored)
        inserts, updates = [], []
        for row, merged_row in enumerate(merged):
            record = (int(rows.meter_id[row]), int(rows.channel[row]), days[row], _utc(rows.day_start[row]),
                      int(rows.interval_s[row]), merged_row.values, merged_row.quality, merged_row.total,
                      merged_row.read_count)
            if row not in stored:
                inserts.append(record)
            elif merged_row.values != stored[row][0] or merged_row.quality != stored[row][1]:
                updates.append(record)
        if inserts:
            with conn.cursor().copy(f"copy interval_blocks ({_BLOCK_COLUMNS}) from stdin (format binary)") as copy:
                copy.set_types(_BLOCK_TYPES)
                for record in inserts:
                    copy.write_row(record)
        if updates:
            _update_rows(conn, updates)
        result.rows_inserted, result.rows_updated = len(inserts), len(updates)
        result.reads_added = _move_rollups(conn, rows, agreement_of_row, days, merged, result.touched)
        result.exceptions_recorded = _record_exceptions(conn, exceptions)
    return result


def _lock_stored_rows(conn: psycopg.Connection, rows: DayRows, days: list[date]) -> dict:
    if not len(rows):
        return {}
    found = conn.execute(
        "select k.row, b.values, b.quality, b.total, b.read_count "
        "from unnest(%s::int8[], %s::int2[], %s::date[], %s::int4[]) as k(meter_id, channel, local_day, row) "
        "join interval_blocks b using (meter_id, channel, local_day) for update of b",
        (rows.meter_id.tolist(), rows.channel.tolist(), days, list(range(len(rows))))).fetchall()
    return {row: (values, quality, total, count) for row, values, quality, total, count in found}


def _update_rows(conn: psycopg.Connection, updates: list[tuple]) -> None:
    conn.execute("create temp table if not exists interval_block_updates "
                 "(like interval_blocks including defaults) on commit delete rows")
    with conn.cursor().copy(f"copy interval_block_updates ({_BLOCK_COLUMNS}) from stdin (format binary)") as copy:
        copy.set_types(_BLOCK_TYPES)
        for record in updates:
            copy.write_row(record)
    conn.execute(
        "update interval_blocks b set values = u.values, quality = u.quality, total = u.total, "
        "read_count = u.read_count, updated_at = now() from interval_block_updates u "
        "where b.meter_id = u.meter_id and b.channel = u.channel and b.local_day = u.local_day")


def _move_rollups(conn: psycopg.Connection, rows: DayRows, agreement_of_row: np.ndarray, days: list[date],
                  merged: list, touched: set) -> int:
    deltas: dict[tuple[int, int, date], list[int]] = {}
    for row, merged_row in enumerate(merged):
        if merged_row.delta_total == 0 and merged_row.delta_count == 0:
            continue
        key = (int(agreement_of_row[row]), int(rows.channel[row]), days[row])
        total = deltas.setdefault(key, [0, 0])
        total[0] += merged_row.delta_total
        total[1] += merged_row.delta_count
    if not deltas:
        return 0
    keys = list(deltas)
    conn.execute(
        "insert into usage_daily (service_agreement_id, channel, local_day, quantity, read_count) "
        "select * from unnest(%s::int8[], %s::int2[], %s::date[], %s::int8[], %s::int4[]) "
        "on conflict (service_agreement_id, channel, local_day) do update "
        "set quantity = usage_daily.quantity + excluded.quantity, "
        "read_count = usage_daily.read_count + excluded.read_count",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
         [deltas[k][0] for k in keys], [deltas[k][1] for k in keys]))
    touched.update((k[0], k[2]) for k in keys)
    return sum(d[1] for d in deltas.values())


def _record_exceptions(conn: psycopg.Connection, exceptions: list[ExceptionRecord]) -> int:
    if not exceptions:
        return 0
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into vee_exceptions (meter_no, meter_id, channel, block_start, interval_s, rules, severity, "
            "flagged_count, values, flags, source_topic, source_partition, source_offset) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (source_topic, source_partition, source_offset) do nothing",
            [(e.meter_no, e.meter_id, e.channel, _utc(e.block_start), e.interval_s, e.rules, e.severity,
              e.flagged_count, e.values, e.flags, *(e.source or (None, None, None))) for e in exceptions])
    return len(exceptions)
