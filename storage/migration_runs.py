"""Migration jobs as recorded, one per legacy extract (by the digest of its files)."""
from __future__ import annotations

import json

import psycopg


def run_status(conn: psycopg.Connection, digest: str) -> str | None:
    """'running', 'failed' or 'finished' for an extract loaded before, None for one never loaded."""
    row = conn.execute("select status from migration_runs where digest = %s", (digest,)).fetchone()
    return row[0] if row else None


def find_run(conn: psycopg.Connection, digest: str) -> tuple | None:
    """(id, status, steps done, reads done, counts) of the extract's job."""
    return conn.execute("select id, status, steps_done, reads_done, counts from migration_runs where digest = %s",
                        (digest,)).fetchone()


def start_run(conn: psycopg.Connection, source: str, digest: str) -> tuple:
    return conn.execute("insert into migration_runs (source, digest, status) values (%s, %s, 'running') "
                        "returning id, status, steps_done, reads_done, counts", (source, digest)).fetchone()


def set_status(conn: psycopg.Connection, run_id: int, status: str, error: str | None = None) -> None:
    """Record the job running, failed (with the error) or finished (with its finish time)."""
    conn.execute("update migration_runs set status = %s, error = %s, "
                 "finished_at = case when %s = 'finished' then now() else finished_at end where id = %s",
                 (status, error, status, run_id))


def step_done(conn: psycopg.Connection, run_id: int, step: str, counts: dict) -> None:
    conn.execute("update migration_runs set steps_done = array_append(steps_done, %s), counts = %s where id = %s",
                 (step, json.dumps(counts), run_id))


def reads_done(conn: psycopg.Connection, run_id: int, done: int) -> None:
    conn.execute("update migration_runs set reads_done = %s where id = %s", (done, run_id))


def cycles(conn: psycopg.Connection) -> dict[str, tuple[int, str, int]]:
    """code -> (id, zone, period start day) of every billing cycle."""
    return {code: (cycle_id, zone, start_day) for cycle_id, code, zone, start_day in
            conn.execute("select id, code, zone, period_start_day from billing_cycles").fetchall()}


def tariff_codes(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select distinct code from tariff_revisions").fetchall()}


def remember_key(conn: psycopg.Connection, run_id: int, kind: str, legacy_id: str, new_id: int) -> None:
    """The new id a legacy record was loaded as (kind: premise, account, agreement, meter, opening_balance)."""
    conn.execute("insert into migration_keys (kind, legacy_id, new_id, run_id) values (%s, %s, %s, %s) "
                 "on conflict do nothing", (kind, legacy_id, new_id, run_id))


def keys(conn: psycopg.Connection, kind: str) -> dict[str, int]:
    return dict(conn.execute("select legacy_id, new_id from migration_keys where kind = %s", (kind,)).fetchall())


def insert_account(conn: psycopg.Connection, account_no: str, name: str, cycle_id: int, zone: str, channel: str,
                   email: str | None, mailing_address: str | None) -> int:
    return conn.execute(
        "insert into accounts (account_no, customer_name, billing_cycle_id, zone, delivery_channel, email, "
        "mailing_address) values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (account_no, name, cycle_id, zone, channel, email, mailing_address)).fetchone()[0]


def account_zones(conn: psycopg.Connection, account_numbers: list[str]) -> dict[str, str]:
    return dict(conn.execute("select account_no, zone from accounts where account_no = any(%s)",
                             (account_numbers,)).fetchall())


def insert_agreement(conn: psycopg.Connection, account_id: int, premise_id: int, service: str, start: str,
                     end: str | None, attributes: dict, tariff_code: str) -> int:
    """A service agreement with its tariff from its start."""
    agreement_id = conn.execute(
        "insert into service_agreements (account_id, premise_id, service, start_date, end_date, attributes) "
        "values (%s, %s, %s, %s, %s, %s) returning id",
        (account_id, premise_id, service, start, end, json.dumps(attributes))).fetchone()[0]
    conn.execute("insert into tariff_assignments (service_agreement_id, effective_from, tariff_code) "
                 "values (%s, %s, %s)", (agreement_id, start, tariff_code))
    return agreement_id


def insert_meter(conn: psycopg.Connection, meter_no: str, agreement_id: int, service: str, unit: str,
                 power_of_ten: int, interval_s: int, max_per_hour: int, zone: str) -> int:
    """The meter, installed at the agreement's service point for the agreement's days."""
    meter_id = conn.execute(
        "insert into meters (meter_no, service, unit, power_of_ten, interval_s, expected_high_per_hour, zone) "
        "values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (meter_no, service, unit, power_of_ten, interval_s, max_per_hour, zone)).fetchone()[0]
    conn.execute(
        "insert into meter_installations (meter_id, service_point_id, installed_at, removed_at, created_by) "
        "select %s, service_point_id, start_date::timestamp at time zone %s, end_date::timestamp at time zone %s, "
        "'legacy migration' from service_agreements where id = %s", (meter_id, zone, zone, agreement_id))
    return meter_id


def zone_loaded_premises(conn: psycopg.Connection) -> None:
    """Loaded premises take their account's zone."""
    conn.execute("update premises p set zone = a.zone from service_agreements s, accounts a, migration_keys k "
                 "where k.kind = 'premise' and k.new_id = p.id and s.premise_id = p.id and a.id = s.account_id")


def insert_legacy_bill(conn: psycopg.Connection, bill_no: str, account_id: int, start: str, end: str,
                       total_minor: int, balance_after_minor: int, run_id: int, lines: list[tuple]) -> bool:
    """A legacy bill with its (line no, service, charge code, legacy code, description, amount minor) lines;
    False when it was loaded before."""
    inserted = conn.execute(
        "insert into legacy_bills (bill_no, account_id, period_start, period_end, total_minor, "
        "balance_after_minor, run_id) values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
        (bill_no, account_id, start, end, total_minor, balance_after_minor, run_id)).rowcount
    if not inserted:
        return False
    with conn.cursor() as cursor:
        cursor.executemany(
            "insert into legacy_bill_lines (bill_no, line_no, service, charge_code, legacy_code, description, "
            "amount_minor) values (%s, %s, %s, %s, %s, %s, %s)", [(bill_no, *line) for line in lines])
    return True


def legacy_bill_periods(conn: psycopg.Connection) -> list[tuple[int, object]]:
    """(cycle id, period start) of every legacy bill's account and period."""
    return conn.execute("select distinct a.billing_cycle_id, lb.period_start from legacy_bills lb "
                        "join accounts a on a.id = lb.account_id").fetchall()


def loaded_meter_exceptions(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from vee_exceptions e join migration_keys k on k.kind = 'meter' "
                        "and k.new_id = e.meter_id").fetchone()[0]


def latest_legacy_bills(conn: psycopg.Connection, periods: int) -> list[tuple]:
    """(bill no, account id, account no, cycle id, cycle start day, period start, end, total minor) of each
    account's latest ``periods`` legacy bills."""
    return conn.execute(
        """select lb.bill_no, a.id, a.account_no, a.billing_cycle_id, c.period_start_day, lb.period_start,
                  lb.period_end, lb.total_minor
           from (select *, row_number() over (partition by account_id order by period_start desc) as n
                 from legacy_bills) lb
           join accounts a on a.id = lb.account_id join billing_cycles c on c.id = a.billing_cycle_id
           where lb.n <= %s order by a.account_no, lb.period_start""", (periods,)).fetchall()


def legacy_lines(conn: psycopg.Connection, bill_numbers: list[str]) -> list[tuple[str, str, str, int]]:
    """(bill no, service, charge code, amount minor) of the bills' lines."""
    return conn.execute("select l.bill_no, l.service, l.charge_code, l.amount_minor from legacy_bill_lines l "
                        "where l.bill_no = any(%s)", (bill_numbers,)).fetchall()
