"""Reads to service points, through the installation history.

A stored read is rolled up (``usage_daily``) at the service point its meter was installed at when the
interval began; agreements take their service point's days (view ``agreement_usage_daily``), so a
start or stop recorded late needs nothing moved. An installation recorded late (a meter exchange keyed
two days after it happened) re-attributes the stored days it changes, from the stored reads.

Merges and installation changes are serialised through one table lock: every merge holds
``meter_installations`` in SHARE mode (merges do not block each other), a change takes SHARE ROW
EXCLUSIVE, so a merge sees either the installations before a change or after it, never half.

Reads that no installation covers, and use at a service point with no agreement in force, are stored
and raised as exceptions of their own (``outside_installation``, ``unbilled_consumption``)."""
from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import psycopg

from meterdata.day_rows import StoredRow
from meterdata.windows import Installation, masked_totals, split_row
from storage.exception_rows import ExceptionRecord, insert_day_exceptions
from storage.pg_binary import parse_array

OUTSIDE_RULE, UNBILLED_RULE = "outside_installation", "unbilled_consumption"
_OUTSIDE_MARK, _UNBILLED_MARK = 32768, 65536  # their bits in vee.rules
# an installation ``i`` that may cover part of the day row ``b`` (the exact slots: meterdata.windows)
_INSTALLED_ON_ROW = (" and i.installed_at < b.day_start + interval '1 day 1 hour' "
                     " and (i.removed_at is null or i.removed_at > b.day_start) ")


def lock_for_merge(conn: psycopg.Connection) -> None:
    conn.execute("lock table meter_installations in share mode")


def lock_for_change(conn: psycopg.Connection) -> None:
    conn.execute("lock table meter_installations in share row exclusive mode")


def installations_of(conn: psycopg.Connection, meter_ids: list[int]) -> dict[int, list[Installation]]:
    """Every installation of each meter, oldest first."""
    found: dict[int, list[Installation]] = {}
    if not meter_ids:
        return found
    for meter_id, point, installed, removed in conn.execute(
            "select meter_id, service_point_id, extract(epoch from installed_at)::int8, "
            "extract(epoch from removed_at)::int8 from meter_installations where meter_id = any(%s::int8[]) "
            "order by meter_id, installed_at", (meter_ids,)):
        found.setdefault(meter_id, []).append(Installation(point, installed, removed))
    return found


def outside_record(meter_no: str, meter_id: int, channel: int, day_start: int, interval_s: int,
                   values: np.ndarray, present: np.ndarray, outside: np.ndarray) -> ExceptionRecord:
    """The evidence of reads no installation covers: the day's values with those slots marked."""
    return _marked(OUTSIDE_RULE, _OUTSIDE_MARK, meter_no, meter_id, channel, day_start, interval_s, values,
                   present & outside, present)


def _marked(rule: str, mark: int, meter_no: str, meter_id: int, channel: int, day_start: int, interval_s: int,
            values: np.ndarray, marked: np.ndarray, present: np.ndarray) -> ExceptionRecord:
    """A day rule's exception: the day's values, the ``marked`` slots flagged with the rule's bit."""
    return ExceptionRecord(meter_no=meter_no, meter_id=meter_id, channel=channel, block_start=day_start,
                           interval_s=interval_s, rules=[rule], severity="issue", flagged_count=0,
                           values=np.where(present, values, 0).tolist(), flags=np.where(marked, mark, 0).tolist())


def reattribute(conn: psycopg.Connection, meter_id: int, since: datetime) -> set[tuple[int, date]]:
    """Roll up again every stored day of ``meter_id`` from ``since`` at every service point the meter
    was or is installed at, from the stored reads of all the meters installed there; called inside the
    transaction that changed the meter's installations (after :func:`lock_for_change`). Raises
    ``outside_installation`` for what is now outside, resolves what is now inside. Returns the
    (service point, day) pairs rolled up."""
    windows = installations_of(conn, [meter_id])
    points = sorted({w.service_point_id for w in windows.get(meter_id, [])})
    days = [r[0] for r in conn.execute(
        "select distinct local_day from interval_blocks where meter_id = %s "
        "and day_start + interval '1 day 1 hour' > %s order by 1", (meter_id, since))]
    if not days:
        return set()
    keys = [(p, d) for p in points for d in days]
    _roll_up_again(conn, keys)
    _review_outside(conn, meter_id, days, windows.get(meter_id, []))
    return set(keys)


def _roll_up_again(conn: psycopg.Connection, keys: list[tuple[int, date]]) -> None:
    """usage_daily of each (service point, day) from scratch, from every meter installed there."""
    points, days = [k[0] for k in keys], [k[1] for k in keys]
    rows = conn.execute(
        "select t.p, b.channel, b.local_day, extract(epoch from b.day_start)::int8, b.interval_s, "
        "array_send(b.values), array_send(b.quality), b.meter_id "
        "from unnest(%s::int8[], %s::date[]) as t(p, d) "
        "join meter_installations i on i.service_point_id = t.p "
        "join interval_blocks b on b.meter_id = i.meter_id and b.local_day = t.d " + _INSTALLED_ON_ROW +
        "group by 1, 2, 3, 4, 5, 6, 7, 8", (points, days)).fetchall()
    meters = sorted({r[7] for r in rows})
    windows = installations_of(conn, meters)
    totals: dict[tuple[int, int, date], list[int]] = {}
    for point, channel, day, day_start, interval_s, values_bytes, quality_bytes, meter_id in rows:
        values, present = parse_array(values_bytes)
        quality, _ = parse_array(quality_bytes)
        mask = split_row(day_start, interval_s, len(values), windows.get(meter_id, [])).slots_at(point, len(values))
        if not mask.any():
            continue
        total, count, estimated = masked_totals(values, present, quality.astype(np.int16), mask)
        into = totals.setdefault((point, channel, day), [0, 0, 0])
        into[0] += total
        into[1] += count
        into[2] += estimated
    conn.execute("delete from usage_daily u using unnest(%s::int8[], %s::date[]) as t(p, d) "
                 "where u.service_point_id = t.p and u.local_day = t.d", (points, days))
    if totals:
        found = list(totals)
        conn.execute(
            "insert into usage_daily (service_point_id, channel, local_day, quantity, read_count, estimated_count) "
            "select * from unnest(%s::int8[], %s::int2[], %s::date[], %s::int8[], %s::int4[], %s::int4[])",
            ([k[0] for k in found], [k[1] for k in found], [k[2] for k in found],
             [totals[k][0] for k in found], [totals[k][1] for k in found], [totals[k][2] for k in found]))


def _review_outside(conn: psycopg.Connection, meter_id: int, days: list[date],
                    installations: list[Installation]) -> None:
    rows = conn.execute(
        "select m.meter_no, b.channel, extract(epoch from b.day_start)::int8, b.interval_s, array_send(b.values) "
        "from interval_blocks b join meters m on m.id = b.meter_id where b.meter_id = %s and b.local_day = any(%s)",
        (meter_id, days)).fetchall()
    raised, covered = [], []
    for meter_no, channel, day_start, interval_s, values_bytes in rows:
        values, present = parse_array(values_bytes)
        split = split_row(day_start, interval_s, len(values), installations)
        if split.outside is not None and (present & split.outside).any():
            raised.append(outside_record(meter_no, meter_id, channel, day_start, interval_s, values, present,
                                         split.outside))
        else:
            covered.append((channel, datetime.fromtimestamp(day_start, timezone.utc)))
    insert_day_exceptions(conn, raised, [OUTSIDE_RULE] * len(raised))
    if covered:
        conn.execute(
            "update vee_exceptions e set status = 'resolved' from unnest(%s::int2[], %s::timestamptz[]) as t(c, s) "
            "where e.meter_id = %s and e.channel = t.c and e.block_start = t.s and e.day_rule = %s "
            "and e.status = 'open'", ([c[0] for c in covered], [c[1] for c in covered], meter_id, OUTSIDE_RULE))


def raise_unbilled(conn: psycopg.Connection, first_day: date, end_day: date) -> int:
    """Raise ``unbilled_consumption`` for every stored day in [first_day, end_day) with use at a service
    point that no agreement served that day: one exception per meter, channel and day (raising again
    records nothing twice). Returns how many days were found."""
    rows = conn.execute(
        "select m.meter_no, b.meter_id, b.channel, extract(epoch from b.day_start)::int8, b.interval_s, "
        "array_send(b.values), u.service_point_id "
        "from usage_daily u join meter_installations i on i.service_point_id = u.service_point_id "
        "join interval_blocks b on b.meter_id = i.meter_id and b.channel = u.channel and b.local_day = u.local_day "
        + _INSTALLED_ON_ROW + "join meters m on m.id = b.meter_id "
        "where u.local_day >= %s and u.local_day < %s and u.read_count > 0 and not exists ("
        " select 1 from service_agreements sa where sa.service_point_id = u.service_point_id "
        " and sa.start_date <= u.local_day and (sa.end_date is null or sa.end_date > u.local_day)) "
        "and not exists (select 1 from vee_exceptions e where e.meter_id = b.meter_id and e.channel = b.channel "
        " and e.block_start = b.day_start and e.day_rule = %s)",
        (first_day, end_day, UNBILLED_RULE)).fetchall()
    windows = installations_of(conn, sorted({r[1] for r in rows}))
    records = []
    for meter_no, meter_id, channel, day_start, interval_s, values_bytes, point in rows:
        values, present = parse_array(values_bytes)
        # only what the meter read while installed at the point
        marked = present & split_row(day_start, interval_s, len(values),
                                     windows.get(meter_id, [])).slots_at(point, len(values))
        if marked.any():
            records.append(_marked(UNBILLED_RULE, _UNBILLED_MARK, meter_no, meter_id, channel, day_start,
                                   interval_s, values, marked, present))
    insert_day_exceptions(conn, records, [UNBILLED_RULE] * len(records))
    return len(records)


def raise_unbilled_of_period(conn: psycopg.Connection, billing_period_id: int) -> int:
    """:func:`raise_unbilled` over a billing period's days."""
    first_day, end_day = conn.execute("select period_start, period_end from billing_periods where id = %s",
                                      (billing_period_id,)).fetchone()
    return raise_unbilled(conn, first_day, end_day)


def attribute_rows(conn: psycopg.Connection, rows, stored: dict[int, StoredRow], merged: list,
                   days: list[date]):
    """Per day row of a batch, the rollup deltas of each service point its slots belong to, and the
    rows with reads outside every installation. Returns (deltas by (point, channel, day), touched
    (point, day) pairs, [(row, outside mask)])."""
    windows = installations_of(conn, sorted({int(m) for m in rows.meter_id}))
    deltas: dict[tuple[int, int, date], list[int]] = {}
    touched: set[tuple[int, date]] = set()
    outside = []
    for row, after in enumerate(merged):
        split = split_row(int(rows.day_start[row]), int(rows.interval_s[row]), len(after.values),
                          windows.get(int(rows.meter_id[row]), []))
        for point, mask in split.parts:
            touched.add((point, days[row]))
            if mask is None:
                change = (after.delta_total, after.delta_count, after.delta_estimated)
            else:
                now = masked_totals(after.values, after.present, after.quality, mask)
                before = stored.get(row)
                was = (0, 0, 0) if before is None else masked_totals(before.values, before.present,
                                                                       before.quality, mask)
                change = (now[0] - was[0], now[1] - was[1], now[2] - was[2])
            if change == (0, 0, 0):
                continue
            into = deltas.setdefault((point, int(rows.channel[row]), days[row]), [0, 0, 0])
            into[0] += change[0]
            into[1] += change[1]
            into[2] += change[2]
        if split.outside is not None and (after.present & split.outside).any():
            outside.append((row, split.outside))
    return deltas, touched, outside


def held_for_unknown_meter(conn: psycopg.Connection, meter_no: str) -> list[tuple]:
    """(exception id, channel, block start epoch s, interval s, values, flags) of the open exceptions that
    hold reads of ``meter_no`` because it was not in the directory when they came."""
    return conn.execute(
        "select id, channel, extract(epoch from block_start)::int8, interval_s, values, flags, "
        "(extract(epoch from created_at) * 1000)::int8 from vee_exceptions "
        "where meter_no = %s and status = 'open' and 'unknown_meter' = any(rules) order by id", (meter_no,)).fetchall()


def resolve_exceptions(conn: psycopg.Connection, exception_ids: list[int]) -> None:
    conn.execute("update vee_exceptions set status = 'resolved' where id = any(%s)", (exception_ids,))
