"""Register (dial) reads: stored once per meter, channel and moment; a later read of the same
moment with another value replaces it (the head-end corrected it)."""
from __future__ import annotations

from datetime import datetime

import psycopg


def store(conn: psycopg.Connection, rows: list[tuple[int, int, datetime, int, int]], source: str) -> int:
    """``rows``: (meter id, channel, read at, value, quality). Returns how many were new or changed."""
    if not rows:
        return 0
    changed = conn.execute(
        """insert into register_reads (meter_id, channel, read_at, value, quality, source)
           select * , %s from unnest(%s::bigint[], %s::smallint[], %s::timestamptz[], %s::bigint[], %s::smallint[])
           on conflict (meter_id, channel, read_at) do update
               set value = excluded.value, quality = excluded.quality, source = excluded.source, imported_at = now()
               where (register_reads.value, register_reads.quality) is distinct from (excluded.value, excluded.quality)""",
        (source, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
         [r[4] for r in rows])).rowcount
    return changed


def meter_units(conn: psycopg.Connection, meter_numbers: list[str]) -> dict[str, tuple]:
    """meter number -> (id, unit, power of ten, interval seconds, zone)."""
    rows = conn.execute("select meter_no, id, unit, power_of_ten, interval_s, zone from meters where meter_no = any(%s)",
                        (meter_numbers,)).fetchall()
    return {row[0]: row[1:] for row in rows}


def last_before(conn: psycopg.Connection, meter_id: int, channel: int, moment: datetime) -> tuple | None:
    """(read at, value, quality) of the meter channel's last register read before ``moment``."""
    return conn.execute("select read_at, value, quality from register_reads where meter_id = %s and channel = %s "
                        "and read_at < %s order by read_at desc limit 1", (meter_id, channel, moment)).fetchone()


_PAIRS = """
with pairs as (
    select r.meter_id, r.channel, r.read_at as first_at, r.value as first_value,
           lead(r.read_at) over w as second_at, lead(r.value) over w as second_value
    from register_reads r join meters m on m.id = r.meter_id
    where r.meter_id = any(%s) and m.interval_s < 86400 and r.read_at >= %s and r.read_at < %s
    window w as (partition by r.meter_id, r.channel order by r.read_at))
select p.meter_id, m.meter_no, p.channel, m.interval_s, m.power_of_ten, m.register_digits, p.first_at,
       p.first_value, p.second_at, p.second_value, s.total, s.reads, m.service, m.meter_class
from pairs p join meters m on m.id = p.meter_id
cross join lateral (
    select coalesce(sum(r.value), 0) as total, count(*) as reads from interval_reads r
    where r.meter_id = p.meter_id and r.channel = p.channel and r.interval_start >= p.first_at
      and r.interval_start + make_interval(secs => r.interval_s) <= p.second_at
      and r.local_day >= (p.first_at - interval '1 day')::date and r.local_day <= (p.second_at + interval '1 day')::date
) s
where p.second_at is not null
"""


def register_pairs(conn: psycopg.Connection, meter_ids: list[int], start: datetime, stop: datetime) -> list[tuple]:
    """Consecutive register reads of interval meters read in [start, stop), with the sum and count of the
    intervals stored between them: (meter id, meter number, channel, interval s, power of ten, register
    digits, first at, first value, second at, second value, interval total, interval reads, service, class)."""
    return conn.execute(_PAIRS, (meter_ids, start, stop)).fetchall()
