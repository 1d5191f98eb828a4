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
