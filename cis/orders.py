"""Service orders: field work at a service point, from its order to its completion.

Kinds: connect, disconnect (for non-payment, after a supervisor approves it), reconnect, meter
exchange, investigate (a meter test, a leak or outage), read on demand. Statuses::

    awaiting_approval --approve--> open --schedule--> scheduled --dispatch--> dispatched
    open | scheduled | dispatched --complete--> completed   (--fail--> failed)
    any status in progress --cancel--> cancelled

One order of a kind is in progress at a service point at a time. Completing an order does what the
field did: a connect or reconnect leaves the service point connected, a disconnect disconnected (the
running estimate stops projecting use), a meter exchange records the exchange (``cis.meters``).
Every change is recorded with who and why; the field-work system is told through a
:class:`FieldWorkGateway` (no device integration here: :class:`RecordingFieldWork` keeps what it was
sent).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Protocol

import psycopg

from cis.errors import CisError, NoAgreement, UnknownAccount, UnknownPremise
from config.errors import require_who_and_why
from storage import installations
from storage import orders as stored
from storage.customers import record_event
from cis import notices

KINDS = ("connect", "disconnect", "reconnect", "meter_exchange", "investigate", "read_on_demand")
STATUSES = ("awaiting_approval", "open", "scheduled", "dispatched", "completed", "cancelled", "failed")
ACTIVE = stored.ACTIVE
# days from the order to its due day, unless given
DUE_DAYS = {"connect": 1, "reconnect": 1, "disconnect": 5, "meter_exchange": 10, "investigate": 3, "read_on_demand": 3}
# action -> (the statuses it applies to, the status after)
ACTIONS = {
    "approve": (("awaiting_approval",), "open"),
    "schedule": (("open", "scheduled"), "scheduled"),
    "dispatch": (("open", "scheduled"), "dispatched"),
    "complete": (("open", "scheduled", "dispatched"), "completed"),
    "fail": (("open", "scheduled", "dispatched"), "failed"),
    "cancel": (ACTIVE, "cancelled"),
}


class OrderRefused(CisError):
    code = "order_refused"
    status = 409


class UnknownOrder(CisError):
    code = "order_not_found"
    status = 404


class BadOrder(CisError):
    code = "bad_order"


@dataclass(frozen=True)
class Order:
    id: int
    kind: str
    status: str
    service_point_id: int
    account_no: str | None
    bill_id: int | None
    due_on: date
    scheduled_for: date | None
    fee_minor: int
    details: dict
    reason: str
    source: str
    field_reference: str | None
    completed_at: datetime | None
    completion: dict | None
    created_at: datetime
    created_by: str
    premise_id: int
    service: str
    address: str
    point_state: str

    @classmethod
    def of(cls, row: tuple) -> "Order":
        return cls(*row)  # storage.orders selects the fields in this order

    def overdue(self, today: date) -> bool:
        return self.status in ACTIVE and self.due_on < today

    def document(self, today: date | None = None) -> dict:
        return {"id": self.id, "kind": self.kind, "status": self.status, "service_point_id": self.service_point_id,
                "premise_id": self.premise_id, "address": self.address, "service": self.service,
                "point_state": self.point_state, "account_no": self.account_no, "bill_id": self.bill_id,
                "due_on": self.due_on.isoformat(),
                "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
                "fee_minor": self.fee_minor, "details": self.details, "reason": self.reason, "source": self.source,
                "field_reference": self.field_reference,
                "completed_at": self.completed_at.isoformat() if self.completed_at else None,
                "completion": self.completion, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by,
                "overdue": self.overdue(today) if today is not None else None}


class FieldWorkGateway(Protocol):
    """The field-work (workforce management) system: told when an order is scheduled, dispatched or
    cancelled; answers with its reference for the job."""

    def send(self, action: str, ticket: dict) -> str: ...


class RecordingFieldWork:
    """A field-work gateway that records each request in ``field_work_requests`` (no device or crew
    system behind it); its reference is ``FW-<order id>``."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def send(self, action: str, ticket: dict) -> str:
        reference = f"FW-{ticket['id']}"
        stored.send_field_request(self.conn, ticket["id"], action, ticket, reference)
        return reference


def disconnect_withheld(medical_need_until: date | None, moratorium: tuple[str, str] | None,
                        today: date) -> tuple[str, str] | None:
    """Why a disconnect for non-payment may not be ordered today, as (rule, why), or None: a customer
    with a certified medical need (to its day), or the entity's winter moratorium (``("12-01",
    "03-01")``: from the first day up to the second, across the new year)."""
    if medical_need_until is not None and today <= medical_need_until:
        return "medical_need", f"a medical need is certified until {medical_need_until}"
    if moratorium is not None:
        first, end = moratorium
        here = today.strftime("%m-%d")
        inside = first <= here < end if first <= end else (here >= first or here < end)
        if inside:
            return "winter_moratorium", f"no disconnections from {first} to {end} (month-day)"
    return None


def create(conn: psycopg.Connection, kind: str, premise_id: int, service: str, actor: str, reason: str, *,
           today: date, account_no: str | None = None, due_on: date | None = None, details: dict | None = None,
           source: str = "staff") -> Order:
    """Staff order field work at a premise's service point (a disconnect for non-payment comes from
    collections, through the approval queue, instead)."""
    require_who_and_why(actor, reason, "a service order needs who and why")
    if kind not in KINDS:
        raise BadOrder(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if installations.premise(conn, premise_id) is None:
        raise UnknownPremise(f"no premise {premise_id}")
    point = stored.point_of(conn, premise_id, service)
    if point is None:
        raise NoAgreement(f"premise {premise_id} has no {service} service point")
    account_id = None
    if account_no is not None:
        found = installations.account(conn, account_no)
        if found is None:
            raise UnknownAccount(f"no account {account_no}")
        account_id = found[0]
    if kind == "meter_exchange" and not (details or {}).get("new_meter"):
        raise BadOrder("a meter exchange order names the new meter (details.new_meter)")
    return create_at_point(conn, kind, point[0], account_id, actor, reason, today=today, due_on=due_on,
                           details=details, source=source)


def create_at_point(conn: psycopg.Connection, kind: str, point_id: int, account_id: int | None, actor: str,
                    reason: str, *, today: date, due_on: date | None = None, details: dict | None = None,
                    source: str = "staff", bill_id: int | None = None, fee_minor: int = 0,
                    awaiting_approval: bool = False) -> Order:
    """The order at a service point (refused while one of the kind is in progress there)."""
    if due_on is not None and due_on < today:
        raise BadOrder(f"an order cannot be due before today ({due_on})")
    with conn.transaction():
        status = "awaiting_approval" if awaiting_approval else "open"
        order_id = stored.insert(conn, kind, status, point_id, account_id, bill_id,
                                 due_on or today + timedelta(days=DUE_DAYS[kind]), fee_minor, details or {}, reason,
                                 source, actor)
        if order_id is None:
            raise OrderRefused(f"a {kind} order is in progress at service point {point_id} already "
                               f"(order {stored.active_order(conn, point_id, kind)})")
        stored.record_event(conn, order_id, status, actor, reason, {"created": True, "source": source})
    return get(conn, order_id)


def active_or_new(conn: psycopg.Connection, kind: str, point_id: int, account_id: int | None, actor: str,
                  reason: str, *, today: date, due_on: date | None = None, source: str = "staff") -> int:
    """The order of the kind in progress at the point, or a new one: its id."""
    existing = stored.active_order(conn, point_id, kind)
    if existing is not None:
        return existing
    return create_at_point(conn, kind, point_id, account_id, actor, reason, today=today, due_on=due_on,
                           source=source).id


def get(conn: psycopg.Connection, order_id: int) -> Order:
    row = stored.get(conn, order_id)
    if row is None:
        raise UnknownOrder(f"no service order {order_id}")
    return Order.of(row)


def history(conn: psycopg.Connection, order_id: int) -> list[dict]:
    return [{"status": s, "actor": a, "reason": r, "details": d, "at": at.isoformat()}
            for s, a, r, d, at in stored.events(conn, order_id)]


def listing(conn: psycopg.Connection, *, status: list[str] | None = None, kind: str | None = None,
            account_no: str | None = None, overdue_on: date | None = None, limit: int = 50,
            offset: int = 0) -> tuple[int, list[Order]]:
    total, rows = stored.listing(conn, status, kind, account_no, overdue_on, limit, offset)
    return total, [Order.of(r) for r in rows]


def act(conn: psycopg.Connection, order_id: int, action: str, actor: str, reason: str, *,
        gateway: FieldWorkGateway | None = None, day: date | None = None, at: datetime | None = None,
        completion: dict | None = None) -> Order:
    """Apply ``action`` (approve, schedule with ``day``, dispatch, complete at ``at`` with its
    ``completion`` data — reads, notes —, fail, cancel) to an order."""
    require_who_and_why(actor, reason, "a change to a service order needs who and why")
    if action not in ACTIONS:
        raise BadOrder(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    allowed, after = ACTIONS[action]
    with conn.transaction():
        row = stored.get(conn, order_id, lock=True)
        if row is None:
            raise UnknownOrder(f"no service order {order_id}")
        order = Order.of(row)
        if order.status not in allowed:
            raise OrderRefused(f"order {order_id} is {order.status}: it cannot be {_past(action)}")
        columns: dict = {}
        details: dict = {}
        if action == "schedule":
            if day is None:
                raise BadOrder("scheduling an order needs the day")
            columns["scheduled_for"] = day
            details["day"] = day.isoformat()
        if action in ("schedule", "dispatch", "cancel") and gateway is not None \
                and (action != "cancel" or order.field_reference):
            ticket = {**order.document(), "status": after, "scheduled_for": (day or order.scheduled_for or
                                                                             order.due_on).isoformat()}
            columns["field_reference"] = gateway.send(action, ticket)
        if action == "complete":
            moment = at or datetime.now(timezone.utc)
            columns["completed_at"] = moment
            columns["completion"] = {**(completion or {}), **_complete(conn, order, moment, actor, reason,
                                                                       completion or {})}
            details = columns["completion"]
        if action == "fail":
            columns["completion"] = completion or {}
            details = columns["completion"]
        stored.update(conn, order_id, after, **columns)
        stored.record_event(conn, order_id, after, actor, reason, details)
        _tell_customer(conn, order, action, day)
    return get(conn, order_id)


# (order kind, action) -> the kind of notice the account's customer gets (cis/notice_templates)
NOTICES = {("disconnect", "schedule"): "disconnect_scheduled", ("disconnect", "complete"): "disconnected",
           ("reconnect", "complete"): "reconnected", ("connect", "complete"): "connected"}


def _tell_customer(conn: psycopg.Connection, order: "Order", action: str, day: date | None) -> None:
    kind = NOTICES.get((order.kind, action))
    account_id = stored.account_of(conn, order.id)
    if kind is None or account_id is None:
        return
    notices.send(conn, account_id, kind, {"service": order.service, "address": order.address,
                                          "day": day or order.scheduled_for or order.due_on}, order.bill_id)


def _complete(conn: psycopg.Connection, order: Order, at: datetime, actor: str, reason: str,
              completion: dict) -> dict:
    """What completing the order changes in the records."""
    if order.kind in ("connect", "reconnect"):
        stored.set_point_state(conn, order.service_point_id, "connected", at)
        return {"point_state": "connected"}
    if order.kind == "disconnect":
        stored.set_point_state(conn, order.service_point_id, "disconnected", at)
        return {"point_state": "disconnected"}
    if order.kind == "meter_exchange":
        from cis.meters import exchange

        meter = installations.meter_at_point(conn, order.service_point_id, at)
        if meter is None:
            raise OrderRefused(f"no meter is installed at service point {order.service_point_id} at {at.isoformat()}")
        removed, installed = exchange(conn, meter[0], order.details["new_meter"], at, actor, reason,
                                      completion.get("removal_read"), completion.get("install_read"))
        return {"old_meter": removed.meter_no, "new_meter": installed.meter_no}
    return {}


def _past(action: str) -> str:
    return {"approve": "approved", "schedule": "scheduled", "dispatch": "dispatched", "complete": "completed",
            "fail": "marked failed", "cancel": "cancelled"}[action]


def protect(conn: psycopg.Connection, account_no: str, until: date | None, actor: str, reason: str) -> None:
    """Record (or, with None, end) a certified medical need of the account's customer: no disconnect for
    non-payment is ordered while it runs."""
    require_who_and_why(actor, reason, "a medical need certificate needs who and why")
    found = installations.account(conn, account_no)
    if found is None:
        raise UnknownAccount(f"no account {account_no}")
    with conn.transaction():
        stored.set_protection(conn, found[0], until)
        record_event(conn, "medical_need", account_no, {"until": until.isoformat() if until else None}, actor, reason)
