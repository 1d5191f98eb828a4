"""What the customer portal reads and writes for a customer: the account, its usage by day or by
interval, bills, payments and alert settings."""
from __future__ import annotations

from datetime import date

import psycopg

from storage.usage import latest_open_period_days


def account_summary(conn: psycopg.Connection, account_id: int) -> tuple:
    """(account number, customer name, currency, zone, delivery channel)."""
    return conn.execute("select account_no, customer_name, currency, zone, delivery_channel from accounts "
                        "where id = %s", (account_id,)).fetchone()


def account_services(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(service, meter number, unit, latest tariff code) per meter."""
    return conn.execute(
        "select sa.service, m.meter_no, m.unit, (select t.tariff_code from tariff_assignments t where "
        "t.service_agreement_id = sa.id order by t.effective_from desc limit 1) from service_agreements sa "
        "join agreement_meters am on am.service_agreement_id = sa.id join meters m on m.id = am.meter_id "
        "where sa.account_id = %s order by sa.service, m.meter_no",
        (account_id,)).fetchall()


def account_zone(conn: psycopg.Connection, account_id: int) -> str:
    return conn.execute("select zone from accounts where id = %s", (account_id,)).fetchone()[0]


def account_currency(conn: psycopg.Connection, account_id: int) -> str:
    return conn.execute("select currency from accounts where id = %s", (account_id,)).fetchone()[0]


def open_period(conn: psycopg.Connection, account_id: int) -> tuple[date, date] | None:
    """(first day, end day) of the account's latest open billing period."""
    row = latest_open_period_days(conn, account_id)
    return None if row is None else (row[1], row[2])


def daily_usage(conn: psycopg.Connection, account_id: int, first: date, end: date, service: str | None) -> list[tuple]:
    """(service, day, quantity, unit, power of ten, reads, estimated reads) of channel 1, by service and day."""
    return conn.execute(
        "select sa.service, d.local_day, d.quantity, m.unit, m.power_of_ten, d.read_count, d.estimated_count "
        "from agreement_usage_daily d join service_agreements sa on sa.id = d.service_agreement_id "
        "join lateral (select unit, power_of_ten from agreement_meters am join meters on meters.id = am.meter_id "
        " where am.service_agreement_id = sa.id order by am.installed_at desc limit 1) m "
        "on true where sa.account_id = %s and d.channel = 1 and d.local_day >= %s and d.local_day < %s "
        "and (%s::text is null or sa.service = %s) order by sa.service, d.local_day",
        (account_id, first, end, service, service)).fetchall()


def interval_usage(conn: psycopg.Connection, account_id: int, first: date, end: date,
                   service: str | None) -> list[tuple]:
    """(service, meter number, interval start, interval s, value, unit, power of ten, quality) of channel 1:
    the account's own, inside its agreements' days and its meters' installations."""
    return conn.execute(
        "select m.service, m.meter_no, r.interval_start, r.interval_s, r.value, m.unit, m.power_of_ten, "
        "r.quality from service_agreements sa join agreement_meters am on am.service_agreement_id = sa.id "
        "join meters m on m.id = am.meter_id join interval_reads r on r.meter_id = m.id " +
        _IN_WINDOW + "where sa.account_id = %s and r.channel = 1 and r.local_day >= %s "
        "and r.local_day < %s and (%s::text is null or m.service = %s) order by m.service, r.interval_start",
        (account_id, first, end, service, service)).fetchall()


# a read inside its agreement's days and its meter's installation
_IN_WINDOW = ("and r.interval_start >= am.installed_at and (am.removed_at is null or r.interval_start < am.removed_at) "
              "and r.local_day >= sa.start_date and (sa.end_date is null or r.local_day < sa.end_date) ")


def bills(conn: psycopg.Connection, account_id: int, limit: int) -> list[tuple]:
    return conn.execute(
        "select id, period_start, period_end, total_minor, total_due_minor, currency, due_date, status, kind, "
        "estimated, issued_at, delivered_at from bills where account_id = %s order by issued_at desc, id desc "
        "limit %s", (account_id, limit)).fetchall()


def owns_bill(conn: psycopg.Connection, account_id: int, bill_id: int) -> bool:
    return conn.execute("select 1 from bills where id = %s and account_id = %s", (bill_id, account_id)).fetchone() \
        is not None


def bill_lines(conn: psycopg.Connection, bill_id: int) -> list[tuple]:
    return conn.execute("select service, code, description, quantity, unit, price, amount_minor, kind, tariff_version "
                        "from bill_lines where bill_id = %s order by line_no", (bill_id,)).fetchall()


def bill_head(conn: psycopg.Connection, bill_id: int) -> tuple:
    """(period start, period end, currency, current charges, previous balance, payments, adjustments, fees,
    budget, total due, due date, status, estimated)."""
    return conn.execute(
        "select period_start, period_end, currency, total_minor, previous_balance_minor, payments_minor, "
        "adjustments_minor, fees_minor, budget_minor, total_due_minor, due_date, status, estimated "
        "from bills where id = %s", (bill_id,)).fetchone()


def payments(conn: psycopg.Connection, account_id: int, limit: int) -> list[tuple]:
    return conn.execute("select id, received_on, amount_minor, currency, channel, method, status from payments "
                        "where account_id = %s order by received_on desc, id desc limit %s",
                        (account_id, limit)).fetchall()


def owns_meter(conn: psycopg.Connection, account_id: int, meter_no: str) -> bool:
    return conn.execute("select 1 from meters m join agreement_meters am on am.meter_id = m.id "
                        "join service_agreements sa on sa.id = am.service_agreement_id "
                        "where m.meter_no = %s and sa.account_id = %s", (meter_no, account_id)).fetchone() is not None


def alerts(conn: psycopg.Connection, account_id: int) -> tuple[bool, int | None, bool] | None:
    """(high usage on, its amount in minor units, leak on)."""
    return conn.execute("select high_usage, high_usage_minor, leak from portal_alerts where account_id = %s",
                        (account_id,)).fetchone()


def set_alerts(conn: psycopg.Connection, account_id: int, high_usage: bool, high_usage_minor: int | None,
               leak: bool) -> None:
    conn.execute("insert into portal_alerts (account_id, high_usage, high_usage_minor, leak) values (%s, %s, %s, %s) "
                 "on conflict (account_id) do update set high_usage = excluded.high_usage, high_usage_minor = "
                 "excluded.high_usage_minor, leak = excluded.leak, updated_at = now()",
                 (account_id, high_usage, high_usage_minor, leak))


def account_number_and_zone(conn: psycopg.Connection, account_id: int) -> tuple[str, str]:
    return conn.execute("select account_no, zone from accounts where id = %s", (account_id,)).fetchone()


def account_meters(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(meter id, number, service, unit, power of ten, interval s) of the account's meters, by number."""
    return conn.execute(
        "select distinct m.id, m.meter_no, m.service, m.unit, m.power_of_ten, m.interval_s from meters m "
        "join agreement_meters am on am.meter_id = m.id join service_agreements sa on sa.id = am.service_agreement_id "
        "where sa.account_id = %s order by m.meter_no",
        (account_id,)).fetchall()


def meter_reads(conn: psycopg.Connection, account_id: int, meter_id: int, first: date, end: date) -> list[tuple]:
    """(local day, interval start epoch s, interval s, value, quality) of channel 1 over [first, end): the
    account's own reads of the meter (inside its agreements' days and the meter's installations)."""
    return conn.execute(
        "select distinct r.local_day, extract(epoch from r.interval_start)::bigint, r.interval_s, r.value, r.quality "
        "from service_agreements sa join agreement_meters am on am.service_agreement_id = sa.id "
        "join interval_reads r on r.meter_id = am.meter_id " + _IN_WINDOW +
        "where sa.account_id = %s and am.meter_id = %s and r.channel = 1 and r.local_day >= %s and r.local_day < %s "
        "order by 2", (account_id, meter_id, first, end)).fetchall()
