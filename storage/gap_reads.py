"""What the gap fill reads: the meters to fill, their stored consumption days as (values, present)
arrays, and the meters of a billing cycle's period."""
from __future__ import annotations

from datetime import date

import psycopg


def meters_to_fill(conn: psycopg.Connection, meter_ids: list[int]) -> list[tuple[int, str, int, str]]:
    """(meter id, zone, interval seconds, service) of each meter."""
    return conn.execute("select id, zone, interval_s, service from meters where id = any(%s)",
                        (meter_ids,)).fetchall()


def consumption_days(conn: psycopg.Connection, meter_ids: list[int], first_day: date,
                     end_day: date) -> list[tuple[int, date, bytes]]:
    """(meter id, local day, the day's values in PostgreSQL's binary array form) of channel 1 over
    [first_day, end_day)."""
    return conn.execute(
        "select meter_id, local_day, array_send(values) from interval_blocks where meter_id = any(%s) "
        "and channel = 1 and local_day >= %s and local_day < %s", (meter_ids, first_day, end_day)).fetchall()


def point_days(conn: psycopg.Connection, meter_ids: list[int], first_day: date,
               end_day: date) -> list[tuple[int, date, bytes]]:
    """(meter id, local day, values as in :func:`consumption_days`) of channel 1 over [first_day,
    end_day) from the other meters of each meter's service points: the days another meter was
    installed there for the whole day, counting in the same unit and interval (the service point's
    history across an exchange)."""
    return conn.execute(
        "select distinct on (mine.meter_id, b.local_day) mine.meter_id, b.local_day, array_send(b.values) "
        "from meter_installations mine "
        "join meter_installations other on other.service_point_id = mine.service_point_id "
        " and other.meter_id <> mine.meter_id "
        "join meters this_meter on this_meter.id = mine.meter_id "
        "join meters other_meter on other_meter.id = other.meter_id and other_meter.unit = this_meter.unit "
        " and other_meter.power_of_ten = this_meter.power_of_ten and other_meter.interval_s = this_meter.interval_s "
        "join interval_blocks b on b.meter_id = other.meter_id and b.channel = 1 "
        " and b.local_day >= %s and b.local_day < %s and other.installed_at <= b.day_start "
        " and (other.removed_at is null "
        "  or other.removed_at >= b.day_start + make_interval(secs => b.interval_s * array_length(b.values, 1))) "
        "where mine.meter_id = any(%s) order by mine.meter_id, b.local_day, other.installed_at desc",
        (first_day, end_day, meter_ids)).fetchall()


def meter_number(conn: psycopg.Connection, meter_id: int) -> str:
    return conn.execute("select meter_no from meters where id = %s", (meter_id,)).fetchone()[0]


def meter_by_number(conn: psycopg.Connection, meter_no: str) -> tuple[int, str] | None:
    """(meter id, zone) of the meter with that number, if installed."""
    return conn.execute("select id, zone from meters where meter_no = %s", (meter_no,)).fetchone()


def period_meters(conn: psycopg.Connection, billing_period_id: int) -> tuple[date, date, list[int]] | None:
    """(first day, end day, meter ids) of a billing period: every meter whose agreement on the period's
    cycle is in force on some day of it; None when there is no such period."""
    row = conn.execute("select billing_cycle_id, period_start, period_end from billing_periods where id = %s",
                       (billing_period_id,)).fetchone()
    if row is None:
        return None
    cycle_id, first_day, end_day = row
    meter_ids = [r[0] for r in conn.execute(
        "select distinct am.meter_id from agreement_meters am join service_agreements sa on sa.id = am.service_agreement_id "
        "join accounts a on a.id = sa.account_id where a.billing_cycle_id = %s "
        "and sa.start_date < %s and (sa.end_date is null or sa.end_date > %s)", (cycle_id, end_day, first_day))]
    return first_day, end_day, meter_ids
