"""Exception rows as storage writes them: one record per flagged block or day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import psycopg


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


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc)


def insert_day_exceptions(conn: psycopg.Connection, exceptions: list[ExceptionRecord], day_rules: list[str]) -> int:
    """Insert exceptions found on stored day rows: one per meter, channel, day and rule (a second
    insert of the same records nothing)."""
    if not exceptions:
        return 0
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into vee_exceptions (meter_no, meter_id, channel, block_start, interval_s, rules, severity, "
            "flagged_count, values, flags, day_rule) values (%s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s) "
            "on conflict (meter_id, channel, block_start, day_rule) where day_rule is not null do nothing",
            [(e.meter_no, e.meter_id, e.channel, _utc(e.block_start), e.interval_s, e.rules, e.severity, e.values,
              e.flags, rule) for e, rule in zip(exceptions, day_rules)])
    return len(exceptions)
