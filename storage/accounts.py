"""An account as the staff see it at a terminal: its header, services, bills, payments, notices and
arrangement; and its budget-billing switch."""
from __future__ import annotations

from datetime import date

import psycopg


def account_id_of(conn: psycopg.Connection, account_no: str) -> int | None:
    row = conn.execute("select id from accounts where account_no = %s", (account_no,)).fetchone()
    return None if row is None else row[0]


def account_no_of(conn: psycopg.Connection, account_id: int) -> str | None:
    row = conn.execute("select account_no from accounts where id = %s", (account_id,)).fetchone()
    return None if row is None else row[0]


def billing_entity_of(conn: psycopg.Connection, account_id: int) -> str:
    return conn.execute("select billing_entity from accounts where id = %s", (account_id,)).fetchone()[0]


def account_header(conn: psycopg.Connection, account_no: str) -> tuple | None:
    """(id, account_no, customer name, currency, billing entity, delivery channel, email, cycle code,
    budget amount in minor units, customer id, paperless), or None for an unknown number."""
    return conn.execute("select a.id, a.account_no, a.customer_name, a.currency, a.billing_entity, "
                        "a.delivery_channel, a.email, c.code, a.budget_amount_minor, a.customer_id, a.paperless "
                        "from accounts a join billing_cycles c on c.id = a.billing_cycle_id where a.account_no = %s",
                        (account_no,)).fetchone()


def account_services(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(service, premise address, latest tariff code, meter numbers) per agreement."""
    return conn.execute(
        "select sa.service, p.address, (select tariff_code from tariff_assignments ta where "
        "ta.service_agreement_id = sa.id order by effective_from desc limit 1), "
        "(select string_agg(m.meter_no, ' ' order by am.installed_at) from agreement_meters am join meters m on m.id = am.meter_id "
        " where am.service_agreement_id = sa.id) "
        "from service_agreements sa join premises p on p.id = sa.premise_id where sa.account_id = %s "
        "order by sa.id", (account_id,)).fetchall()


def account_bills(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    """(id, first day served, end day, status, kind, charges, total due, due date, delivered at, channel,
    estimated): the days are those the bill's services were billed for (a move-in's first bill starts
    on its first day), the bill's period where it priced no usage."""
    return conn.execute(
        "select b.id, coalesce(u.first_day, b.period_start), coalesce(u.end_day, b.period_end), b.status, b.kind, "
        "b.total_minor, b.total_due_minor, b.due_date, b.delivered_at, b.delivery_channel, b.estimated from bills b "
        "left join lateral (select min(first_day) as first_day, max(end_day) as end_day from bill_usage "
        " where bill_id = b.id) u on true where b.account_id = %s order by b.id",
        (account_id,)).fetchall()


def account_payments(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    return conn.execute("select id, received_on, amount_minor, method, reference, status, return_reason "
                        "from payments where account_id = %s order by id", (account_id,)).fetchall()


def account_notices(conn: psycopg.Connection, account_id: int) -> list[tuple]:
    return conn.execute("select id, created_at, kind, subject, delivered_at from notices "
                        "where account_id = %s order by id", (account_id,)).fetchall()


def latest_arrangement(conn: psycopg.Connection, account_id: int) -> tuple | None:
    """(id, status, total in minor units, first day) of the account's latest payment arrangement."""
    return conn.execute("select id, status, total_minor, starts_on from payment_arrangements "
                        "where account_id = %s order by id desc limit 1", (account_id,)).fetchone()


def set_budget(conn: psycopg.Connection, account_no: str, amount_minor: int | None, start: date | None) -> bool:
    """Budget billing on (a monthly amount from a day) or off (``amount_minor`` None); False for an
    unknown account. Switching off keeps the start day: the next bill trues up what is still deferred."""
    if amount_minor is None:
        changed = conn.execute("update accounts set budget_amount_minor = null where account_no = %s",
                               (account_no,)).rowcount
    else:
        changed = conn.execute("update accounts set budget_amount_minor = %s, budget_started_on = %s "
                               "where account_no = %s", (amount_minor, start, account_no)).rowcount
    return bool(changed)
