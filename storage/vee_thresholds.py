"""VEE thresholds as stored (service, meter class or none, parameter, value, effective from), and the
holidays estimation treats as Sundays."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import psycopg


def rows(conn: psycopg.Connection) -> list[tuple[str, str | None, str, Decimal, date]]:
    return conn.execute("select service, meter_class, parameter, value, effective_from from vee_thresholds "
                        "order by service, meter_class nulls first, parameter, effective_from").fetchall()


def set_threshold(conn: psycopg.Connection, service: str, meter_class: str | None, parameter: str, value: Decimal,
                  effective_from: date, actor: str, reason: str) -> None:
    conn.execute(
        "insert into vee_thresholds (service, meter_class, parameter, value, effective_from, set_by, reason) "
        "values (%s, %s, %s, %s, %s, %s, %s) on conflict (service, coalesce(meter_class, ''), parameter, "
        "effective_from) do update set value = excluded.value, set_by = excluded.set_by, set_at = now(), "
        "reason = excluded.reason", (service, meter_class, parameter, value, effective_from, actor, reason))


def holidays(conn: psycopg.Connection) -> frozenset[date]:
    return frozenset(row[0] for row in conn.execute("select day from vee_holidays").fetchall())


def add_holiday(conn: psycopg.Connection, day: date, name: str, actor: str) -> None:
    conn.execute("insert into vee_holidays (day, name, set_by) values (%s, %s, %s) on conflict (day) do update "
                 "set name = excluded.name, set_by = excluded.set_by", (day, name, actor))


def list_holidays(conn: psycopg.Connection) -> list[tuple[date, str]]:
    return conn.execute("select day, name from vee_holidays order by day").fetchall()
