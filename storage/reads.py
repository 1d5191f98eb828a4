"""Store one validated batch in one transaction: merge day rows idempotently, move the usage rollups
by exactly the change, record VEE exceptions. The caller commits the Kafka offsets afterwards."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import psycopg

from meterdata.day_rows import (DayRows, MergedRow, StoredRow, hourly_buckets, merge_rows, pack_versions,
                              unpack_versions, wall_clock_hours)
from storage.attribution import attribute_rows, lock_for_merge, outside_record
from storage.exception_rows import ExceptionRecord, _utc, insert_day_exceptions
from storage.pg_binary import (COPY_HEADER, COPY_TRAILER, array_bytes, copy_row, field_bytes, field_date,
                               field_int2, field_int4, field_int8, field_timestamptz, parse_array)

_BLOCK_COLUMNS = ("meter_id, channel, local_day, day_start, interval_s, values, quality, total, read_count, "
                  "hourly_total, hourly_peak, versions")


@dataclass
class StoreResult:
    rows_inserted: int = 0
    rows_updated: int = 0
    reads_added: int = 0  # net new reads stored (a redelivery adds 0)
    reads_superseded: int = 0  # reads not taken: an older version, or weaker than the stored read
    exceptions_recorded: int = 0
    # (service point, local day) of every valid interval the batch carried, changed or not: a
    # redelivered batch refreshes the estimates its first delivery may not have written
    touched: set[tuple[int, date]] = field(default_factory=set)
    merged: list = field(default_factory=list)  # the day rows as stored, aligned with the batch's DayRows


def store_batch(conn: psycopg.Connection, rows: DayRows, exceptions: list[ExceptionRecord],
                trace_replacements: bool = True, meter_numbers: dict[int, str] | None = None) -> StoreResult:
    """Runs inside one transaction; raises on any database error with nothing written. A stored read
    that a later one replaces with another value keeps a trace in ``read_edits`` (unless the caller
    records its own, as staff edits do). Reads roll up at the service point of their meter's
    installation (:mod:`storage.attribution`); reads outside every installation are stored and raised."""
    result = StoreResult()
    with conn.transaction():
        lock_for_merge(conn)
        days = [rows.local_day(r) for r in range(len(rows))]
        stored = _lock_stored_rows(conn, rows, days)
        merged = merge_rows(rows, stored)
        inserts = [r for r in range(len(rows)) if r not in stored]
        updates = [r for r in range(len(rows)) if r in stored and merged[r].changed]
        if inserts:
            _copy_rows(conn, "interval_blocks", rows, merged, inserts)
        if updates:
            conn.execute("create temp table if not exists interval_block_updates "
                         "(like interval_blocks including defaults) on commit delete rows")
            _copy_rows(conn, "interval_block_updates", rows, merged, updates)
            conn.execute(
                "update interval_blocks b set values = u.values, quality = u.quality, total = u.total, "
                "read_count = u.read_count, hourly_total = u.hourly_total, hourly_peak = u.hourly_peak, versions = u.versions, "
                "updated_at = now() from interval_block_updates u "
                "where b.meter_id = u.meter_id and b.channel = u.channel and b.local_day = u.local_day")
        if updates and trace_replacements:
            _trace_replaced(conn, rows, stored, merged, updates)
        result.rows_inserted, result.rows_updated = len(inserts), len(updates)
        deltas, result.touched, outside = attribute_rows(conn, rows, stored, merged, days)
        result.reads_added = _move_rollups(conn, deltas)
        result.merged = merged
        result.reads_superseded = sum(m.superseded for m in merged)
        result.exceptions_recorded = _record_exceptions(conn, exceptions)
        if outside:
            result.exceptions_recorded += _record_outside(conn, rows, merged, outside, meter_numbers)
    return result


def _record_outside(conn: psycopg.Connection, rows: DayRows, merged: list, outside: list,
                    meter_numbers: dict[int, str] | None) -> int:
    numbers = meter_numbers or {}
    missing = sorted({int(rows.meter_id[r]) for r, _ in outside} - set(numbers))
    if missing:
        numbers = {**numbers, **dict(conn.execute("select id, meter_no from meters where id = any(%s)",
                                                  (missing,)).fetchall())}
    records = [outside_record(numbers[int(rows.meter_id[r])], int(rows.meter_id[r]), int(rows.channel[r]),
                              int(rows.day_start[r]), int(rows.interval_s[r]), merged[r].values, merged[r].present,
                              mask) for r, mask in outside]
    return insert_day_exceptions(conn, records, [r.rules[0] for r in records])


def _trace_replaced(conn: psycopg.Connection, rows: DayRows, stored: dict, merged: list, updates: list[int]) -> None:
    traces = []
    for r in updates:
        before, after = stored[r], merged[r]
        replaced = np.flatnonzero(before.present & after.present & (before.values != after.values))
        for slot in replaced.tolist():
            moment = int(rows.day_start[r]) + slot * int(rows.interval_s[r])
            traces.append((int(rows.meter_id[r]), int(rows.channel[r]), _utc(moment), int(before.values[slot]),
                           int(after.values[slot])))
    if traces:
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into read_edits (meter_id, channel, interval_start, old_value, new_value, actor, reason) "
                "values (%s, %s, %s, %s, %s, 'head-end', 'replaced by a later read')", traces)


def _lock_stored_rows(conn: psycopg.Connection, rows: DayRows, days: list[date]) -> dict[int, StoredRow]:
    if not len(rows):
        return {}
    found = conn.execute(
        "select k.row, array_send(b.values), array_send(b.quality), b.versions "
        "from unnest(%s::int8[], %s::int2[], %s::date[], %s::int4[]) as k(meter_id, channel, local_day, row) "
        "join interval_blocks b using (meter_id, channel, local_day) for update of b",
        (rows.meter_id.tolist(), rows.channel.tolist(), days, list(range(len(rows))))).fetchall()
    stored = {}
    for row, values_bytes, quality_bytes, versions in found:
        values, present = parse_array(values_bytes)
        quality, _ = parse_array(quality_bytes)
        stored[row] = StoredRow(values, present, quality.astype(np.int16),
                                None if versions is None else unpack_versions(versions, len(values)))
    return stored


def _copy_rows(conn: psycopg.Connection, table: str, rows: DayRows, merged: list[MergedRow],
               which: list[int]) -> None:
    parts = [COPY_HEADER]
    for r in which:
        m = merged[r]
        hours = wall_clock_hours(rows.zone[r], int(rows.day_start[r]), int(rows.interval_s[r]), len(m.values))
        hourly_total, hourly_peak = hourly_buckets(m.values, m.present, hours)
        parts.append(copy_row([
            field_int8(int(rows.meter_id[r])), field_int2(int(rows.channel[r])),
            field_date(int(rows.day_ordinal[r])), field_timestamptz(int(rows.day_start[r])),
            field_int4(int(rows.interval_s[r])), field_bytes(array_bytes(m.values, m.present)),
            field_bytes(array_bytes(m.quality)), field_int8(m.total), field_int4(m.read_count),
            field_bytes(array_bytes(hourly_total)), field_bytes(array_bytes(hourly_peak)),
            field_bytes(pack_versions(m.version))]))
    parts.append(COPY_TRAILER)
    with conn.cursor().copy(f"copy {table} ({_BLOCK_COLUMNS}) from stdin (format binary)") as copy:
        copy.write(b"".join(parts))


def _move_rollups(conn: psycopg.Connection, deltas: dict[tuple[int, int, date], list[int]]) -> int:
    if not deltas:
        return 0
    keys = list(deltas)
    conn.execute(
        "insert into usage_daily (service_point_id, channel, local_day, quantity, read_count, estimated_count) "
        "select * from unnest(%s::int8[], %s::int2[], %s::date[], %s::int8[], %s::int4[], %s::int4[]) "
        "on conflict (service_point_id, channel, local_day) do update "
        "set quantity = usage_daily.quantity + excluded.quantity, "
        "read_count = usage_daily.read_count + excluded.read_count, "
        "estimated_count = usage_daily.estimated_count + excluded.estimated_count",
        ([k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
         [deltas[k][0] for k in keys], [deltas[k][1] for k in keys], [deltas[k][2] for k in keys]))
    return sum(d[1] for d in deltas.values())


def record_day_exceptions(conn: psycopg.Connection, exceptions: list[ExceptionRecord], day_rules: list[str]) -> int:
    """Exceptions found on stored day rows (the reads stay stored); one per meter, channel, day and rule,
    so re-checking a day after a redelivery records nothing twice."""
    if not exceptions:
        return 0
    with conn.transaction():
        return insert_day_exceptions(conn, exceptions, day_rules)


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
