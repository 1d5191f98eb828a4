"""TimescaleDB installed but not loadable (not in shared_preload_libraries): the migration falls back to
native partitions with a warning instead of failing. A stand-in connection answers as such a server."""
from contextlib import nullcontext

import psycopg
import pytest

from storage import schema


class InstalledNotPreloaded:
    def __init__(self):
        self.statements = []

    def execute(self, sql, params=None):
        self.statements.append(sql)
        if sql.startswith("create extension"):
            raise psycopg.errors.FeatureNotSupported(
                'extension "timescaledb" must be preloaded\nHINT: add it to shared_preload_libraries')
        return self

    def fetchone(self):
        return (1,)  # pg_available_extensions lists it

    def transaction(self):
        return nullcontext()


def test_timescaledb_that_cannot_be_created_falls_back_to_native_partitions():
    conn = InstalledNotPreloaded()
    with pytest.warns(UserWarning, match="must be preloaded"):
        schema._create_interval_blocks(conn)
    created = next(s for s in conn.statements if s.strip().startswith("create table interval_blocks"))
    assert "partition by range (local_day)" in created
    assert not any("create_hypertable" in s for s in conn.statements)
