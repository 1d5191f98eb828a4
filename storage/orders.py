"""Service orders as stored: the orders, their events (who, why, when), what the field-work system was
sent, and the service point state the completed orders keep."""
from __future__ import annotations

from datetime import date, datetime

import psycopg
from psycopg.types.json import Jsonb

ACTIVE = ("awaiting_approval", "open", "scheduled", "dispatched")
# an order as cis.orders.Order has it, field for field
_COLUMNS = ("o.id, o.kind, o.status, o.service_point_id, a.account_no, o.bill_id, o.due_on, o.scheduled_for, "
            "o.fee_minor, o.details, o.reason, o.source, o.field_reference, o.completed_at, o.completion, "
            "o.created_at, o.created_by, sp.premise_id, sp.service, p.address, sp.state")
_FROM = ("from service_orders o join service_points sp on sp.id = o.service_point_id "
         "join premises p on p.id = sp.premise_id left join accounts a on a.id = o.account_id")


def insert(conn: psycopg.Connection, kind: str, status: str, point_id: int, account_id: int | None,
           bill_id: int | None, due_on: date, fee_minor: int, details: dict, reason: str, source: str,
           actor: str) -> int | None:
    """The new order's id; None when an order of the kind is in progress at the point already."""
    row = conn.execute(
        "insert into service_orders (kind, status, service_point_id, account_id, bill_id, due_on, fee_minor, details, "
        "reason, source, created_by) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "on conflict (service_point_id, kind) where status in ('awaiting_approval', 'open', 'scheduled', 'dispatched') "
        "do nothing returning id",
        (kind, status, point_id, account_id, bill_id, due_on, fee_minor, Jsonb(details), reason, source,
         actor)).fetchone()
    return None if row is None else row[0]


def active_order(conn: psycopg.Connection, point_id: int, kind: str) -> int | None:
    row = conn.execute("select id from service_orders where service_point_id = %s and kind = %s and status = any(%s)",
                       (point_id, kind, list(ACTIVE))).fetchone()
    return None if row is None else row[0]


def record_event(conn: psycopg.Connection, order_id: int, status: str, actor: str, reason: str,
                 details: dict | None = None) -> None:
    conn.execute("insert into service_order_events (order_id, status, actor, reason, details) values (%s, %s, %s, %s, %s)",
                 (order_id, status, actor, reason, Jsonb(details or {})))


def get(conn: psycopg.Connection, order_id: int, lock: bool = False) -> tuple | None:
    return conn.execute(f"select {_COLUMNS} {_FROM} where o.id = %s" + (" for update of o" if lock else ""),
                        (order_id,)).fetchone()


def events(conn: psycopg.Connection, order_id: int) -> list[tuple]:
    """(status, actor, reason, details, at) of the order's changes, oldest first."""
    return conn.execute("select status, actor, reason, details, at from service_order_events where order_id = %s "
                        "order by id", (order_id,)).fetchall()


def listing(conn: psycopg.Connection, status: list[str] | None, kind: str | None, account_no: str | None,
            overdue_on: date | None, limit: int, offset: int) -> tuple[int, list[tuple]]:
    """(how many match, one page of them, oldest due first)."""
    where, params = ["true"], []
    if status:
        where.append("o.status = any(%s)")
        params.append(status)
    if kind:
        where.append("o.kind = %s")
        params.append(kind)
    if account_no:
        where.append("a.account_no = %s")
        params.append(account_no)
    if overdue_on is not None:
        where.append("o.due_on < %s and o.status = any(%s)")
        params += [overdue_on, list(ACTIVE)]
    condition = " and ".join(where)
    total = conn.execute(f"select count(*) {_FROM} where {condition}", params).fetchone()[0]
    rows = conn.execute(f"select {_COLUMNS} {_FROM} where {condition} order by o.due_on, o.id limit %s offset %s",
                        [*params, limit, offset]).fetchall()
    return total, rows


def update(conn: psycopg.Connection, order_id: int, status: str, **columns) -> None:
    sets = ["status = %s", "updated_at = now()"]
    values: list = [status]
    for name, value in columns.items():
        sets.append(f"{name} = %s")
        values.append(Jsonb(value) if isinstance(value, dict) else value)
    conn.execute(f"update service_orders set {', '.join(sets)} where id = %s", [*values, order_id])


def set_point_state(conn: psycopg.Connection, point_id: int, state: str, since: datetime) -> None:
    conn.execute("update service_points set state = %s, state_since = %s where id = %s", (state, since, point_id))


def point_of(conn: psycopg.Connection, premise_id: int, service: str) -> tuple[int, str] | None:
    """(service point id, state) of the premise's point for the service."""
    return conn.execute("select id, state from service_points where premise_id = %s and service = %s",
                        (premise_id, service)).fetchone()


def account_points(conn: psycopg.Connection, account_id: int) -> list[tuple[int, str, str]]:
    """(service point, service, state) of each point an agreement of the account serves now or last served."""
    return conn.execute(
        "select distinct sp.id, sp.service, sp.state from service_agreements sa "
        "join service_points sp on sp.id = sa.service_point_id where sa.account_id = %s "
        "and sa.status in ('pending', 'active') order by sp.id", (account_id,)).fetchall()


def account_orders(conn: psycopg.Connection, account_id: int, kind: str, statuses: tuple[str, ...]) -> list[tuple]:
    """(id, service point, status) of the account's orders of a kind in those statuses."""
    return conn.execute("select id, service_point_id, status from service_orders where account_id = %s and kind = %s "
                        "and status = any(%s) order by id", (account_id, kind, list(statuses))).fetchall()


def protection(conn: psycopg.Connection, account_id: int) -> date | None:
    """The day the account's customer's certified medical need runs to, if any."""
    row = conn.execute("select c.medical_need_until from accounts a join customers c on c.id = a.customer_id "
                       "where a.id = %s", (account_id,)).fetchone()
    return None if row is None else row[0]


def set_protection(conn: psycopg.Connection, account_id: int, until: date | None) -> int:
    return conn.execute("update customers set medical_need_until = %s where id = (select customer_id from accounts "
                        "where id = %s)", (until, account_id)).rowcount


def send_field_request(conn: psycopg.Connection, order_id: int, action: str, payload: dict, reference: str) -> None:
    conn.execute("insert into field_work_requests (order_id, action, payload, reference) values (%s, %s, %s, %s)",
                 (order_id, action, Jsonb(payload), reference))


def counts(conn: psycopg.Connection, today: date) -> list[tuple[str, str, int, float, int]]:
    """(kind, status, how many, the oldest one's age in seconds, how many past due) of the orders in
    progress, and of the others how many."""
    return conn.execute(
        "select kind, status, count(*), coalesce(extract(epoch from now() - min(created_at)), 0), "
        "count(*) filter (where due_on < %s and status = any(%s)) from service_orders group by kind, status",
        (today, list(ACTIVE))).fetchall()


def withheld_recorded(conn: psycopg.Connection, account_no: str, bill_id: int, service: str, rule: str) -> bool:
    """Whether collections recorded already that this bill's disconnect of the service is withheld by
    the rule."""
    return conn.execute(
        "select 1 from cis_events where kind = 'disconnect_withheld' and subject = %s and details->>'bill_id' = %s "
        "and details->>'service' = %s and details->>'rule' = %s", (account_no, str(bill_id), service, rule)
    ).fetchone() is not None


def last_completed_is(conn: psycopg.Connection, point_id: int, kind: str) -> bool:
    """Whether the last order completed at the point changing its state is of ``kind``."""
    row = conn.execute("select kind from service_orders where service_point_id = %s and status = 'completed' "
                       "and kind in ('connect', 'disconnect', 'reconnect') order by completed_at desc, id desc limit 1",
                       (point_id,)).fetchone()
    return row is not None and row[0] == kind


def account_of(conn: psycopg.Connection, order_id: int) -> int | None:
    row = conn.execute("select account_id from service_orders where id = %s", (order_id,)).fetchone()
    return None if row is None else row[0]


def settlement_waits(conn: psycopg.Connection, account_id: int) -> bool:
    """Whether settling the account would change any field work: a disconnect order of its in progress,
    or one of its service points disconnected."""
    return conn.execute(
        "select exists (select 1 from service_orders where account_id = %s and kind = 'disconnect' "
        " and status = any(%s)) or exists (select 1 from service_agreements sa join service_points sp "
        " on sp.id = sa.service_point_id where sa.account_id = %s and sa.status in ('pending', 'active') "
        " and sp.state = 'disconnected')", (account_id, list(ACTIVE), account_id)).fetchone()[0]
