"""What the day rules need from the days already stored: the hourly sums of like days, and whether a
premise had use in the week before a day."""
from __future__ import annotations

from datetime import date

from psycopg import Connection


def hourly_totals(conn: Connection, days: list[tuple[int, int, date]]) -> dict[tuple[int, int, date], list[int]]:
    """The stored hourly sums of each complete (meter, channel, local day) asked for; incomplete or absent
    days are left out."""
    if not days:
        return {}
    rows = conn.execute(
        "select b.meter_id, b.channel, b.local_day, b.hourly_total from interval_blocks b "
        "join unnest(%s::int8[], %s::int2[], %s::date[]) as t(m, c, d) on b.meter_id = t.m and b.channel = t.c "
        "and b.local_day = t.d where b.hourly_total is not null and b.read_count = array_length(b.values, 1)",
        ([d[0] for d in days], [d[1] for d in days], [d[2] for d in days]))
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def occupied_days(conn: Connection, points: list[int], days: list[date]) -> set[tuple[int, date]]:
    """The (service point, day) pairs whose service point had metered use on channel 1 in the seven
    days before (by whichever meter was installed there)."""
    if not points:
        return set()
    rows = conn.execute(
        "select t.sp, t.day from unnest(%s::int8[], %s::date[]) as t(sp, day) where exists ("
        " select 1 from usage_daily u where u.service_point_id = t.sp and u.channel = 1"
        " and u.local_day >= t.day - 7 and u.local_day < t.day and u.quantity > 0)",
        (points, days))
    return {(r[0], r[1]) for r in rows}
