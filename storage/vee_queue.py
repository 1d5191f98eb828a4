"""The VEE exception queue as stored: exceptions with their account, the actions taken on them
(``exception_actions``) and the old and new value of every edited read (``read_edits``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class ExceptionRow:
    id: int
    meter_no: str
    account_no: str | None
    channel: int
    block_start: datetime
    interval_s: int
    rules: list[str]
    severity: str
    flagged_count: int
    status: str
    values: list[int]
    flags: list[int]


_SELECT = ("select e.id, e.meter_no, a.account_no, e.channel, e.block_start, e.interval_s, e.rules, e.severity, "
           "e.flagged_count, e.status, e.values, e.flags from vee_exceptions e "
           "left join service_agreements sa on sa.id = agreement_at(e.meter_id, e.block_start) "
           "left join accounts a on a.id = sa.account_id ")


SORTS = {"oldest": "e.id", "newest": "e.id desc",
         "severity": "case e.severity when 'blocks_billing' then 0 when 'issue' then 1 else 2 end, e.id",
         "meter": "e.meter_no, e.block_start"}


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = "open"
    rule: str | None = None
    severity: str | None = None
    account_no: str | None = None
    meter_no: str | None = None
    older_than: datetime | None = None  # raised before this

    def where(self) -> tuple[str, list]:
        conditions, params = [], []
        for clause, value in (("e.status = %s", self.status), ("%s = any(e.rules)", self.rule),
                              ("e.severity = %s", self.severity), ("a.account_no = %s", self.account_no),
                              ("e.meter_no = %s", self.meter_no), ("e.created_at < %s", self.older_than)):
            if value is not None:
                conditions.append(clause)
                params.append(value)
        return ("where " + " and ".join(conditions) + " ") if conditions else "", params


def list_exceptions(conn: psycopg.Connection, status: str | None = "open", rule: str | None = None,
                    severity: str | None = None, account_no: str | None = None, meter_no: str | None = None,
                    limit: int = 50, offset: int = 0, sort: str = "oldest",
                    older_than: datetime | None = None) -> list[ExceptionRow]:
    where, params = QueueFilter(status, rule, severity, account_no, meter_no, older_than).where()
    rows = conn.execute(_SELECT + where + f"order by {SORTS[sort]} limit %s offset %s",
                        (*params, limit, offset)).fetchall()
    return [ExceptionRow(*row) for row in rows]


def summarize(conn: psycopg.Connection, chosen: QueueFilter) -> tuple[int, int, list[int]]:
    """(how many exceptions match, their flagged reads, their ids) — what a bulk action would touch."""
    where, params = chosen.where()
    rows = conn.execute("select e.id, e.flagged_count from vee_exceptions e "
                        "left join service_agreements sa on sa.id = agreement_at(e.meter_id, e.block_start) "
                        "left join accounts a on a.id = sa.account_id " + where + "order by e.id", params).fetchall()
    return len(rows), sum(r[1] for r in rows), [r[0] for r in rows]


def get_exception(conn: psycopg.Connection, exception_id: int) -> ExceptionRow | None:
    row = conn.execute(_SELECT + "where e.id = %s", (exception_id,)).fetchone()
    return None if row is None else ExceptionRow(*row)


def move(conn: psycopg.Connection, exception_ids: list[int], status: str, only_open: bool, action: str, actor: str,
         reason: str, details: dict) -> int:
    """Set the exceptions' status (only the open ones, if ``only_open``) and record the action on each
    moved; returns how many moved."""
    allowed = "status = 'open'" if only_open else "true"
    moved = conn.execute(f"update vee_exceptions set status = %s where id = any(%s) and {allowed} returning id",
                         (status, exception_ids)).fetchall()
    with conn.cursor() as cursor:
        cursor.executemany("insert into exception_actions (exception_id, action, actor, reason, details) "
                           "values (%s, %s, %s, %s, %s)",
                           [(row[0], action, actor, reason, Jsonb(details)) for row in moved])
    return len(moved)


def history(conn: psycopg.Connection, exception_id: int) -> list[tuple]:
    return conn.execute("select action, actor, reason, details, acted_at from exception_actions "
                        "where exception_id = %s order by id", (exception_id,)).fetchall()


def installed_meter(conn: psycopg.Connection, meter_no: str) -> tuple[int, str] | None:
    """(meter id, zone) of the meter with that number."""
    return conn.execute("select m.id, m.zone from meters m where m.meter_no = %s",
                        (meter_no,)).fetchone()


def stored_value(conn: psycopg.Connection, meter_id: int, channel: int, moment: datetime, local_day: date) -> int | None:
    """The value stored for the interval starting at ``moment``, None when none is."""
    found = conn.execute(
        "select values[(extract(epoch from %s::timestamptz - day_start)::bigint / interval_s)::int + 1] "
        "from interval_blocks where meter_id = %s and channel = %s and local_day = %s",
        (moment, meter_id, channel, local_day)).fetchone()
    return None if found is None else found[0]


def record_edits(conn: psycopg.Connection, meter_id: int, channel: int, edits: list[tuple[int, int | None, int]],
                 exception_id: int | None, actor: str, reason: str) -> None:
    """(interval start epoch s, old value, new value) of each edited read."""
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into read_edits (meter_id, channel, interval_start, old_value, new_value, exception_id, "
            "actor, reason) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(meter_id, channel, datetime.fromtimestamp(moment, timezone.utc), old, new, exception_id, actor, reason)
             for moment, old, new in edits])


def exception_place(conn: psycopg.Connection, exception_id: int) -> tuple[int, str] | None:
    """(meter id, the meter's zone) of an exception at an installed meter."""
    return conn.execute("select e.meter_id, m.zone from vee_exceptions e join meters m on m.id = e.meter_id "
                        "where e.id = %s", (exception_id,)).fetchone()


def day_values(conn: psycopg.Connection, meter_id: int, channel: int, interval_s: int,
               days: list[date]) -> dict[date, list[int | None]]:
    """The stored values of each of ``days`` (local days) at the meter, slot by slot from midnight."""
    return dict(conn.execute("select local_day, values from interval_blocks where meter_id = %s and channel = %s "
                             "and interval_s = %s and local_day = any(%s)",
                             (meter_id, channel, interval_s, days)).fetchall())
