"""Migrations and the interval-block table: a TimescaleDB hypertable when the extension is there,
native monthly range partitions (created by the application as data arrives) when it is not."""
from __future__ import annotations

import logging
import warnings
from datetime import date
from importlib import resources

import psycopg

from storage.db_errors import first_line

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 7_431_001  # advisory lock key: one migrator at a time

INTERVAL_BLOCKS = """
create table interval_blocks (
    meter_id    bigint not null,
    channel     smallint not null,
    local_day   date not null,
    day_start   timestamptz not null,
    interval_s  integer not null,
    values      bigint[] not null,     -- one slot per interval of the local day; null = no read
    quality     smallint[] not null,   -- per slot: 0 actual, other codes from the head-end
    total       bigint not null,       -- sum of the values present
    read_count  integer not null,      -- number of values present
    updated_at  timestamptz not null default now(),
    primary key (meter_id, channel, local_day)
){partitioning}
"""

INTERVAL_READS_VIEW = """
create or replace view interval_reads as
select b.meter_id, b.channel, b.local_day,
       b.day_start + (r.slot - 1) * make_interval(secs => b.interval_s) as interval_start,
       b.interval_s, r.value, b.quality[r.slot] as quality
from interval_blocks b
cross join lateral unnest(b.values) with ordinality as r(value, slot)
where r.value is not null
"""


def timescaledb_available(conn: psycopg.Connection) -> bool:
    row = conn.execute("select 1 from pg_available_extensions where name = 'timescaledb'").fetchone()
    return row is not None


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations not applied yet; returns their names."""
    applied_now = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("create table if not exists schema_migrations ("
                     "version text primary key, applied_at timestamptz not null default now())")
        applied = {row[0] for row in conn.execute("select version from schema_migrations")}
        files = {p.name: p for p in resources.files("storage.migrations").iterdir() if p.name.endswith(".sql")}
        # the interval-block table (hypertable or partitioned) is made in code, right after the core tables
        steps = sorted([*files, "interval_blocks"], key=lambda name: "001_core.sql~" if name == "interval_blocks" else name)
        for name in steps:
            if name in applied:
                continue
            if name == "interval_blocks":
                _create_interval_blocks(conn)
            else:
                conn.execute(files[name].read_text())
            conn.execute("insert into schema_migrations (version) values (%s)", (name,))
            applied_now.append(name)
    return applied_now


def _timescaledb_created(conn: psycopg.Connection) -> bool:
    """Create the TimescaleDB extension if the server has it; False, with a warning, when it is installed
    but cannot be created (not in shared_preload_libraries, a version mismatch): native partitions then."""
    if not timescaledb_available(conn):
        return False
    try:
        with conn.transaction():  # a savepoint: a failure leaves the migration's transaction usable
            conn.execute("create extension if not exists timescaledb")
        return True
    except psycopg.Error as error:
        message = first_line(error)
        log.warning("TimescaleDB is installed but cannot be created (%s): interval_blocks uses native "
                    "partitions", message)
        warnings.warn(f"TimescaleDB cannot be created ({message}); using native partitions", stacklevel=2)
        return False


def _create_interval_blocks(conn: psycopg.Connection) -> None:
    if _timescaledb_created(conn):
        conn.execute(INTERVAL_BLOCKS.format(partitioning=""))
        conn.execute("select create_hypertable('interval_blocks', 'local_day', "
                     "chunk_time_interval => interval '1 month')")
        conn.execute("alter table interval_blocks set (timescaledb.compress, "
                     "timescaledb.compress_segmentby = 'meter_id, channel')")
        conn.execute("select add_compression_policy('interval_blocks', interval '90 days')")
    else:
        conn.execute(INTERVAL_BLOCKS.format(partitioning=" partition by range (local_day)"))
    conn.execute(INTERVAL_READS_VIEW)


def uses_native_partitions(conn: psycopg.Connection) -> bool:
    row = conn.execute("select 1 from pg_partitioned_table p join pg_class c on c.oid = p.partrelid "
                       "where c.relname = 'interval_blocks'").fetchone()
    return row is not None


class PartitionManager:
    """Creates the monthly partitions of ``interval_blocks`` that a batch needs (native partitioning)."""

    def __init__(self, conn: psycopg.Connection):
        self._native = uses_native_partitions(conn)
        self._known: set[date] = set()

    def ensure(self, conn: psycopg.Connection, days: set[date]) -> None:
        if not self._native:
            return
        months = {day.replace(day=1) for day in days} - self._known
        for month in sorted(months):
            following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
            name = f"interval_blocks_{month:%Y%m}"
            with conn.transaction():
                conn.execute("select pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(f"create table if not exists {name} partition of interval_blocks "
                             f"for values from ('{month.isoformat()}') to ('{following.isoformat()}')")
            self._known.add(month)
