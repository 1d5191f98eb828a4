"""What the day rules need from the days already stored: the hourly sums of like days (the service
point's, across an exchange of its meter), and whether a premise had use in the week before a day."""
from __future__ import annotations

from datetime import date

from psycopg import Connection


# A day of a meter, or, where that meter was not installed yet (a new meter after an exchange), the
# day of another meter that was installed at the same service point for the whole day and counts in
# the same unit: the service point's history across its meters.
_HOURLY_TOTALS = """
with t as (select * from unnest(%s::int8[], %s::int2[], %s::date[]) as t(m, c, d))
select t.m, t.c, t.d, b.hourly_total, true from t
join interval_blocks b on b.meter_id = t.m and b.channel = t.c and b.local_day = t.d
where b.hourly_total is not null and b.read_count = array_length(b.values, 1)
union all
select t.m, t.c, t.d, b.hourly_total, false from t
join meter_installations now on now.meter_id = t.m and now.installed_at > t.d
join meter_installations other on other.service_point_id = now.service_point_id and other.meter_id <> t.m
join interval_blocks b on b.meter_id = other.meter_id and b.channel = t.c and b.local_day = t.d
join meters this_meter on this_meter.id = t.m
join meters other_meter on other_meter.id = other.meter_id
where b.hourly_total is not null and b.read_count = array_length(b.values, 1)
  and other.installed_at <= b.day_start
  and (other.removed_at is null or other.removed_at >= b.day_start + make_interval(secs => b.interval_s * b.read_count))
  and other_meter.unit = this_meter.unit and other_meter.power_of_ten = this_meter.power_of_ten
"""


def hourly_totals(conn: Connection, days: list[tuple[int, int, date]]) -> dict[tuple[int, int, date], list[int]]:
    """The stored hourly sums of each complete (meter, channel, local day) asked for, from the meter
    itself or, before it was installed, from the meter it replaced at its service point; incomplete or
    absent days are left out."""
    if not days:
        return {}
    rows = conn.execute(_HOURLY_TOTALS, ([d[0] for d in days], [d[1] for d in days], [d[2] for d in days]))
    found: dict[tuple[int, int, date], list[int]] = {}
    for meter_id, channel, day, hours, own in rows:
        if own or (meter_id, channel, day) not in found:
            found[(meter_id, channel, day)] = hours
    return found


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
