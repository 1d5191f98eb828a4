"""Meters, service points, meter installations and service agreements as the lifecycle workflows change
them (``cis.meters``, ``cis.service``)."""
from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg.types.json import Jsonb


def premise(conn: psycopg.Connection, premise_id: int) -> tuple[int, str, str] | None:
    """(id, address, zone)."""
    return conn.execute("select id, address, zone from premises where id = %s", (premise_id,)).fetchone()


def service_point(conn: psycopg.Connection, premise_id: int, service: str, make: bool = False) -> int | None:
    """The premise's service point for the service (made when missing and ``make``)."""
    row = conn.execute("select id from service_points where premise_id = %s and service = %s order by id limit 1",
                       (premise_id, service)).fetchone()
    if row is None and make:
        row = conn.execute("insert into service_points (premise_id, service) values (%s, %s) returning id",
                           (premise_id, service)).fetchone()
    return None if row is None else row[0]


def point_state(conn: psycopg.Connection, point_id: int) -> str:
    return conn.execute("select state from service_points where id = %s", (point_id,)).fetchone()[0]


def meter(conn: psycopg.Connection, meter_no: str) -> tuple | None:
    """(id, service, unit, power of ten, interval s, zone, expected high per hour, register digits, class)."""
    return conn.execute("select id, service, unit, power_of_ten, interval_s, zone, expected_high_per_hour, "
                        "register_digits, meter_class from meters where meter_no = %s", (meter_no,)).fetchone()


def insert_meter(conn: psycopg.Connection, meter_no: str, service: str, unit: str, power_of_ten: int, interval_s: int,
                 high_per_hour: int, zone: str, register_digits: int | None, meter_class: str | None) -> int:
    return conn.execute(
        "insert into meters (meter_no, service, unit, power_of_ten, interval_s, expected_high_per_hour, zone, "
        "register_digits, meter_class) values (%s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (meter_no, service, unit, power_of_ten, interval_s, high_per_hour, zone, register_digits,
         meter_class)).fetchone()[0]


def installations(conn: psycopg.Connection, meter_id: int) -> list[tuple[int, int, datetime, datetime | None]]:
    """(id, service point, installed at, removed at) of the meter, oldest first."""
    return conn.execute("select id, service_point_id, installed_at, removed_at from meter_installations "
                        "where meter_id = %s order by installed_at", (meter_id,)).fetchall()


def installed_at_point(conn: psycopg.Connection, point_id: int, at: datetime) -> list[tuple[str, datetime]]:
    """(meter number, installed at) of the meters installed at the point at ``at`` or later."""
    return conn.execute(
        "select m.meter_no, i.installed_at from meter_installations i join meters m on m.id = i.meter_id "
        "where i.service_point_id = %s and (i.removed_at is null or i.removed_at > %s) order by i.installed_at",
        (point_id, at)).fetchall()


def point_units(conn: psycopg.Connection, point_id: int, other_than: int) -> tuple[str, str, int] | None:
    """(meter number, unit, power of ten) of the last other meter installed at the point, if any."""
    return conn.execute(
        "select m.meter_no, m.unit, m.power_of_ten from meter_installations i join meters m on m.id = i.meter_id "
        "where i.service_point_id = %s and i.meter_id <> %s order by i.installed_at desc limit 1",
        (point_id, other_than)).fetchone()


def meter_at_point(conn: psycopg.Connection, point_id: int, at: datetime) -> tuple[str, str] | None:
    """(meter number, unit) of the meter installed at the point just before ``at`` (the one whose
    read closes the time up to then)."""
    return conn.execute(
        "select m.meter_no, m.unit from meter_installations i join meters m on m.id = i.meter_id "
        "where i.service_point_id = %s and i.installed_at < %s and (i.removed_at is null or i.removed_at >= %s) "
        "order by i.installed_at desc limit 1", (point_id, at, at)).fetchone()


def insert_installation(conn: psycopg.Connection, meter_id: int, point_id: int, at: datetime, read: int | None,
                        actor: str) -> int:
    return conn.execute(
        "insert into meter_installations (meter_id, service_point_id, installed_at, install_read, created_by) "
        "values (%s, %s, %s, %s, %s) returning id", (meter_id, point_id, at, read, actor)).fetchone()[0]


def end_installation(conn: psycopg.Connection, installation_id: int, at: datetime, read: int | None) -> None:
    conn.execute("update meter_installations set removed_at = %s, removal_read = %s where id = %s",
                 (at, read, installation_id))


def account(conn: psycopg.Connection, account_no: str) -> tuple[int, str] | None:
    """(id, zone)."""
    return conn.execute("select id, zone from accounts where account_no = %s", (account_no,)).fetchone()


def tariff_service(conn: psycopg.Connection, code: str) -> str | None:
    """The service of the published tariff ``code``, None when there is none."""
    row = conn.execute("select service from tariff_revisions where code = %s order by id desc limit 1",
                       (code,)).fetchone()
    return None if row is None else row[0]


def agreements_at_point(conn: psycopg.Connection, point_id: int) -> list[tuple[int, str, date, date | None, str]]:
    """(agreement id, account number, start, end, status) of every agreement of the point, by start."""
    return conn.execute(
        "select sa.id, a.account_no, sa.start_date, sa.end_date, sa.status from service_agreements sa "
        "join accounts a on a.id = sa.account_id where sa.service_point_id = %s order by sa.start_date, sa.id",
        (point_id,)).fetchall()


def insert_agreement(conn: psycopg.Connection, account_id: int, premise_id: int, point_id: int, service: str,
                     start: date, status: str, attributes: dict, tariff_code: str) -> int:
    agreement_id = conn.execute(
        "insert into service_agreements (account_id, premise_id, service_point_id, service, start_date, status, "
        "attributes) values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (account_id, premise_id, point_id, service, start, status, Jsonb(attributes))).fetchone()[0]
    conn.execute("insert into tariff_assignments (service_agreement_id, effective_from, tariff_code) "
                 "values (%s, %s, %s)", (agreement_id, start, tariff_code))
    return agreement_id


def stop_agreement(conn: psycopg.Connection, agreement_id: int, on: date) -> None:
    conn.execute("update service_agreements set end_date = %s, status = 'stopped' where id = %s", (on, agreement_id))


def tariff_of(conn: psycopg.Connection, agreement_id: int) -> str | None:
    row = conn.execute("select tariff_code from tariff_assignments where service_agreement_id = %s "
                       "order by effective_from desc limit 1", (agreement_id,)).fetchone()
    return None if row is None else row[0]


def lock_account(conn: psycopg.Connection, account_id: int) -> None:
    conn.execute("select 1 from accounts where id = %s for update", (account_id,))
