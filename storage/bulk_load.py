"""Load CIS records (billing cycle and period, accounts, premises, service agreements, meters,
tariff assignments) in bulk; used by the simulators' seeding and by tests."""
from __future__ import annotations

from datetime import date

import psycopg


def load_directory(conn: psycopg.Connection, utility) -> dict[str, int]:
    """Insert a utility described by ``utility`` (zone, cycle_code, period_start, period_end, accounts with
    account_no/customer_name/address/delivery_channel/email/billing_entity, meters with meter_no/account_no/service/unit/power_of_ten/
    interval_s/expected_high_per_hour/tariff_code). Existing records (same numbers) are left as they are."""
    with conn.transaction():
        cycle_id = conn.execute(
            "insert into billing_cycles (code, zone, period_start_day) values (%s, %s, %s) on conflict (code) do update "
            "set zone = excluded.zone returning id",
            (utility.cycle_code, utility.zone, min(utility.period_start.day, 28))).fetchone()[0]
        period_id = ensure_period(conn, cycle_id, utility.period_start, utility.period_end)
        accounts = utility.accounts
        conn.execute(
            "insert into accounts (account_no, customer_name, billing_cycle_id, zone, delivery_channel, email, "
            "billing_entity) select a, n, %s, %s, c, e, b "
            "from unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[]) as t(a, n, c, e, b) "
            "on conflict (account_no) do nothing",
            (cycle_id, utility.zone, [a.account_no for a in accounts], [a.customer_name for a in accounts],
             [a.delivery_channel for a in accounts], [a.email for a in accounts],
             [a.billing_entity for a in accounts]))
        meters = utility.meters
        conn.execute("create temp table new_meters (meter_no text, account_no text, service text, unit text, "
                     "power_of_ten smallint, interval_s int, high bigint, tariff_code text, address text) "
                     "on commit drop")
        address = {a.account_no: a.address for a in accounts}
        with conn.cursor().copy("copy new_meters from stdin") as copy:
            for m in meters:
                copy.write_row((m.meter_no, m.account_no, m.service, m.unit, m.power_of_ten, m.interval_s,
                                m.expected_high_per_hour, m.tariff_code, address[m.account_no]))
        conn.execute("delete from new_meters n using meters m where m.meter_no = n.meter_no")
        added = conn.execute("select count(*) from new_meters").fetchone()[0]
        # one premise per account (its service address), one agreement per service
        conn.execute(
            "insert into premises (address, zone) select distinct address, %s from new_meters n "
            "where not exists (select 1 from premises p where p.address = n.address)", (utility.zone,))
        conn.execute(
            "insert into service_agreements (account_id, premise_id, service, start_date) "
            "select distinct a.id, p.id, n.service, %s::date from new_meters n "
            "join accounts a on a.account_no = n.account_no join premises p on p.address = n.address "
            "on conflict do nothing", (utility.period_start,))
        conn.execute(
            "insert into meters (meter_no, service, unit, power_of_ten, interval_s, expected_high_per_hour, zone) "
            "select n.meter_no, n.service, n.unit, n.power_of_ten, n.interval_s, n.high, %s from new_meters n",
            (utility.zone,))
        # each meter installed at its agreement's service point from the first day
        conn.execute(
            "insert into meter_installations (meter_id, service_point_id, installed_at) "
            "select m.id, sa.service_point_id, sa.start_date::timestamp at time zone m.zone "
            "from new_meters n join meters m on m.meter_no = n.meter_no join accounts a on a.account_no = n.account_no "
            "join service_agreements sa on sa.account_id = a.id and sa.service = n.service")
        conn.execute(
            "insert into tariff_assignments (service_agreement_id, effective_from, tariff_code) "
            "select sa.id, %s::date, n.tariff_code from new_meters n join accounts a on a.account_no = n.account_no "
            "join service_agreements sa on sa.account_id = a.id and sa.service = n.service "
            "on conflict do nothing", (utility.period_start,))
    return {"billing_cycle_id": cycle_id, "billing_period_id": period_id, "meters_added": added}


def ensure_period(conn: psycopg.Connection, cycle_id: int, start: date, end: date) -> int:
    row = conn.execute(
        "insert into billing_periods (billing_cycle_id, period_start, period_end) values (%s, %s, %s) "
        "on conflict (billing_cycle_id, period_start) do nothing returning id", (cycle_id, start, end)).fetchone()
    if row is None:
        row = conn.execute("select id from billing_periods where billing_cycle_id = %s and period_start = %s",
                           (cycle_id, start)).fetchone()
    return row[0]
