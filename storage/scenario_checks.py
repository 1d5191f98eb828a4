"""What the demo and the scenario harness check a run by: totals of what was stored, flagged, billed and
posted, and a scenario database made afresh."""
from __future__ import annotations

import psycopg


def recreate_database(admin: psycopg.Connection, name: str) -> None:
    """Drop (ending its sessions) and create the database ``name`` on an autocommit connection."""
    admin.execute(f'drop database if exists "{name}" with (force)')
    admin.execute(f'create database "{name}"')


def stored_and_flagged(conn: psycopg.Connection) -> tuple[int, int]:
    """(reads stored in the rollups, reads flagged by VEE)."""
    stored = conn.execute("select coalesce(sum(read_count), 0) from usage_daily").fetchone()[0]
    flagged = conn.execute("select coalesce(sum(flagged_count), 0) from vee_exceptions").fetchone()[0]
    return int(stored), int(flagged)


def account_ids(conn: psycopg.Connection) -> list[int]:
    return [row[0] for row in conn.execute("select id from accounts order by id")]


def first_period(conn: psycopg.Connection) -> int:
    return conn.execute("select id from billing_periods order by id limit 1").fetchone()[0]


def open_blocking_exceptions(conn: psycopg.Connection) -> list[int]:
    return [row[0] for row in conn.execute(
        "select id from vee_exceptions where status = 'open' and severity = 'blocks_billing'")]


def bill_totals(conn: psycopg.Connection, kind: str = "regular") -> tuple[int, int]:
    """(bills of the kind, their current charges in minor units)."""
    return conn.execute("select count(*), coalesce(sum(total_minor), 0) from bills where kind = %s",
                        (kind,)).fetchone()


def premises_of(conn: psycopg.Connection, account_numbers: list[str]) -> dict[str, int]:
    """Each account's premise (of its first agreement)."""
    return dict(conn.execute(
        "select distinct on (a.account_no) a.account_no, sa.premise_id from accounts a "
        "join service_agreements sa on sa.account_id = a.id where a.account_no = any(%s) "
        "order by a.account_no, sa.id", (account_numbers,)).fetchall())


def first_bills(conn: psycopg.Connection) -> int:
    """Regular bills whose services started inside the period (a move-in's first bill)."""
    return conn.execute(
        "select count(distinct b.id) from bills b join bill_usage u on u.bill_id = b.id "
        "where b.kind = 'regular' and u.first_day > b.period_start").fetchone()[0]


def billed_or_raised(conn: psycopg.Connection) -> tuple[int, int, int]:
    """(consumption stored on the first period's days, what issued bills priced of it, what was raised
    as outside an installation or unbilled), all in stored units: the first equals the sum of the
    other two when every read is billed once or raised."""
    first, end = conn.execute("select period_start, period_end from billing_periods order by period_start, id "
                              "limit 1").fetchone()
    stored = conn.execute("select coalesce(sum(total), 0) from interval_blocks where channel = 1 "
                          "and local_day >= %s and local_day < %s", (first, end)).fetchone()[0]
    billed = conn.execute("select coalesce(sum(u.quantity), 0) from bill_usage u join bills b on b.id = u.bill_id "
                          "where b.status = 'issued' and u.first_day >= %s and u.end_day <= %s",
                          (first, end)).fetchone()[0]
    raised = conn.execute(
        "select coalesce(sum(v), 0) from vee_exceptions e, unnest(e.values, e.flags) as t(v, f) "
        "where e.status = 'open' and f <> 0 and e.channel = 1 "
        "and e.day_rule in ('outside_installation', 'unbilled_consumption')").fetchone()[0]
    return int(stored), int(billed), int(raised)


def raised_days(conn: psycopg.Connection) -> dict[str, int]:
    """Meter days raised as outside an installation or as unbilled use."""
    return dict(conn.execute("select day_rule, count(*) from vee_exceptions where status = 'open' "
                             "and day_rule in ('outside_installation', 'unbilled_consumption') group by 1").fetchall())


def ledger_totals(conn: psycopg.Connection) -> tuple[int, int]:
    """(debits - credits, entries)."""
    return conn.execute("select coalesce(sum(amount_minor), 0), count(*) from ledger_entries").fetchone()


def holding_rules(conn: psycopg.Connection) -> list[tuple[str, int]]:
    """(rule, exceptions) of the rules that held reads back."""
    return conn.execute("select rule, count(*) from vee_exceptions, unnest(rules) rule "
                        "where flagged_count > 0 group by 1 order by 1").fetchall()


def first_billed_account(conn: psycopg.Connection) -> tuple[str, int]:
    """(account number, its bills' total) of the first account by number with bills."""
    return conn.execute("select a.account_no, sum(b.total_minor) from bills b join accounts a on a.id = b.account_id "
                        "group by 1 order by 1 limit 1").fetchone()


def issued_bills(conn: psycopg.Connection) -> list[tuple[str, int, int]]:
    """(account number, bill id, total due) of every issued bill."""
    return conn.execute("select a.account_no, b.id, b.total_due_minor from bills b join accounts a on a.id = b.account_id "
                        "where b.status = 'issued' order by b.id").fetchall()


def latest_due_date(conn: psycopg.Connection):
    return conn.execute("select max(due_date) from bills").fetchone()[0]
