"""Collections' field work: a disconnect order for a service eligible for disconnection (into the
supervisors' approval queue), never for a protected customer, and the reconnect order, with the
entity's reconnect fee, as soon as the account is paid in full or on a payment arrangement."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg

from billing.entities import Entity
from billing.ledger import FEES, RECEIVABLE
from billing.postings import account_receivable, post
from cis import orders
from rating.money import format_minor
from storage import dunning as dunning_store
from storage import orders as stored
from storage.customers import record_event
from cis import notices

ACTOR = "collections"


def order_disconnect(conn: psycopg.Connection, account_id: int, account_no: str, entity: Entity, bill_id: int,
                     service: str, past_due_minor: int, today: date) -> str:
    """Order the disconnection of the account's ``service`` for bill ``bill_id`` (awaiting a
    supervisor's approval), unless the customer is protected today; returns what happened: ordered,
    withheld:<rule>, or in_progress / disconnected / no_point (nothing to do)."""
    point = next((p for p in stored.account_points(conn, account_id) if p[1] == service), None)
    if point is None:
        return "no_point"
    if point[2] == "disconnected":
        return "disconnected"
    if stored.active_order(conn, point[0], "disconnect") is not None:
        return "in_progress"
    withheld = orders.disconnect_withheld(stored.protection(conn, account_id), entity.winter_moratorium, today)
    if withheld is not None:
        rule, why = withheld
        if not stored.withheld_recorded(conn, account_no, bill_id, service, rule):
            record_event(conn, "disconnect_withheld", account_no,
                         {"bill_id": bill_id, "service": service, "rule": rule, "on": today.isoformat()}, ACTOR, why)
        return f"withheld:{rule}"
    money = f"{format_minor(past_due_minor, entity.currency)} {entity.currency}"
    orders.create_at_point(conn, "disconnect", point[0], account_id, ACTOR,
                           f"non-payment: {money} past due on bill {bill_id}", today=today, source="collections",
                           bill_id=bill_id, awaiting_approval=True)
    return "ordered"


def reconnect_if_settled(conn: psycopg.Connection, account_id: int, entity: Entity, now: datetime,
                         actor: str, why: str) -> list[int]:
    """When the account owes nothing (paid in full) or is on a payment arrangement: cancel its
    disconnect orders still in progress and order the reconnection of each of its service points a
    disconnect left disconnected, billing the entity's reconnect fee once per order. Returns the
    reconnect orders made."""
    if not stored.settlement_waits(conn, account_id):  # most payments: no field work to change, no ledger read
        return []
    settled = account_receivable(conn, account_id).balance_minor <= 0 \
        or dunning_store.active_arrangement(conn, account_id) is not None
    if not settled:
        return []
    today = now.date()
    for order_id, _, _ in stored.account_orders(conn, account_id, "disconnect", orders.ACTIVE):
        orders.act(conn, order_id, "cancel", actor, why, gateway=orders.RecordingFieldWork(conn))
    made = []
    for point_id, service, state in stored.account_points(conn, account_id):
        if state != "disconnected" or stored.active_order(conn, point_id, "reconnect") is not None \
                or not stored.last_completed_is(conn, point_id, "disconnect"):
            continue
        fee = entity.reconnect_fee_minor
        order = orders.create_at_point(conn, "reconnect", point_id, account_id, actor, why, today=today,
                                       due_on=today + timedelta(days=1), source="payment", fee_minor=fee)
        if fee:
            post(conn, account_id, [(RECEIVABLE, fee, "fee"), (FEES, -fee, "fee")], now,
                 memo=f"reconnect fee, order {order.id}", created_by=actor)
        notices.send(conn, account_id, "reconnect_ordered",
                     {"service": service, "due_on": order.due_on, "fee_minor": fee})
        made.append(order.id)
    return made
