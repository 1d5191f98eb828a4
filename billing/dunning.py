"""Delinquency: what happens to a bill that is not paid by its due date plus the entity's grace days.

Per past-due bill, in order, each step once (``collection_steps`` is unique per bill, step and
service, so running collections twice on a day does nothing twice):

1. ``late_fee`` (a percentage of the past-due amount, at least the minimum) and ``reminder``;
2. ``final_notice`` after ``final_notice_after_days`` more;
3. ``disconnect_eligible`` per service after ``disconnect_after_days`` more, if the account's past-due
   amount is at least the entity's minimum.

A bill linked to an open billing dispute (``cis.cases``) takes no step while the case is open. An
active payment arrangement pauses the sequence while its installments are kept; one that falls
behind is marked broken (with a notice) and the sequence resumes. What is past due comes from the
ledger alone (:func:`billing.ledger.receivable`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import psycopg

from billing.errors import ArrangementExists, BadArrangement, NothingOwed
from config.errors import require_who_and_why
from billing.ledger import FEES, RECEIVABLE
from cis import notices
from billing.entities import Entity, entity_for
from billing.disconnects import order_disconnect, reconnect_if_settled
from billing.postings import account_receivable, lock_account, post
from rating.money import format_minor
from storage import dunning as stored
from storage.accounts import billing_entity_of
from storage.cases import disputed_bills


@dataclass
class CollectionSummary:
    accounts_checked: int = 0
    late_fees: int = 0
    late_fees_minor: int = 0
    reminders: int = 0
    final_notices: int = 0
    disconnect_eligible: int = 0
    disconnects_ordered: int = 0  # into the supervisors' approval queue
    disconnects_withheld: int = 0  # protected customers (medical need, winter moratorium)
    paused_by_arrangement: int = 0
    held_by_dispute: int = 0  # past-due bills an open billing dispute holds
    arrangements_completed: int = 0
    arrangements_broken: int = 0
    steps: list[tuple[str, int, str, str]] = field(default_factory=list)  # account_no, bill, step, service


def run_collections(conn: psycopg.Connection, entities: dict[str, Entity], today: date, now: datetime) -> CollectionSummary:
    conn.autocommit = True
    summary = CollectionSummary()
    smallest_grace = min(e.grace_days for e in entities.values())
    for account_id in stored.candidate_accounts(conn, smallest_grace, today):
        with conn.transaction():
            _collect_account(conn, account_id, entities, today, now, summary)
    return summary


def _collect_account(conn, account_id: int, entities, today: date, now: datetime, summary: CollectionSummary) -> None:
    _, account_no, currency = lock_account(conn, account_id)
    entity = entity_for(entities, billing_entity_of(conn, account_id))
    summary.accounts_checked += 1
    if _arrangement_holds(conn, account_id, account_no, entity, today, now, summary):
        summary.paused_by_arrangement += 1
        return
    receivable = account_receivable(conn, account_id)
    items = [i for i in receivable.open_items() if i.entry_type == "bill" and i.bill_id is not None]
    if not items:
        return
    due = stored.due_dates(conn, [i.bill_id for i in items])
    past_due = [i for i in items if i.bill_id in due and due[i.bill_id] + timedelta(days=entity.grace_days) < today]
    disputed = disputed_bills(conn, [i.bill_id for i in past_due]) if past_due else set()
    if disputed:  # held from collections while their billing dispute is open
        summary.held_by_dispute += len(disputed)
        past_due = [i for i in past_due if i.bill_id not in disputed]
    if past_due:
        _Steps(conn, account_id, account_no, currency, entity, today, now, summary).take_next(past_due, due)


class _Steps:
    """The next collection step of each past-due bill of one account."""

    def __init__(self, conn, account_id: int, account_no: str, currency: str, entity: Entity, today: date,
                 now: datetime, summary: CollectionSummary):
        self.conn, self.account_id, self.account_no, self.currency = conn, account_id, account_no, currency
        self.entity, self.today, self.now, self.summary = entity, today, now, summary

    def money(self, minor: int) -> str:
        return f"{format_minor(minor, self.currency)} {self.currency}"

    def take(self, bill_id: int, step: str, amount: int, values: dict | None, service: str = "") -> None:
        """Record a collection step, with its notice (``values`` for its template; None: no notice)."""
        notice_id = notices.send(self.conn, self.account_id, step, {"phone": self.entity.phone, **values}, bill_id) \
            if values is not None else None
        stored.record_step(self.conn, self.account_id, bill_id, step, service, self.today, amount, notice_id)
        self.summary.steps.append((self.account_no, bill_id, step, service))

    def take_next(self, past_due: list, due: dict[int, date]) -> None:
        entity, today = self.entity, self.today
        total_past_due = sum(i.open_minor for i in past_due)
        steps = stored.steps_taken(self.conn, [i.bill_id for i in past_due])
        services = stored.services_in_force(self.conn, self.account_id, today)
        for item in past_due:
            bill_id = item.bill_id
            if (bill_id, "late_fee", "") not in steps:
                self.late_fee(item, due[bill_id])
                continue
            reminded = steps.get((bill_id, "reminder", ""))
            if (bill_id, "final_notice", "") not in steps:
                if reminded and today >= reminded + timedelta(days=entity.final_notice_after_days):
                    self.take(bill_id, "final_notice", item.open_minor,
                              {"bill_id": bill_id, "past_due_minor": total_past_due,
                               "disconnect_after_days": entity.disconnect_after_days})
                    self.summary.final_notices += 1
                continue
            final = steps[(bill_id, "final_notice", "")]
            if today >= final + timedelta(days=entity.disconnect_after_days) \
                    and total_past_due >= entity.disconnect_minimum_minor:
                self.disconnect_eligible(bill_id, total_past_due, services, steps)

    def late_fee(self, item, due_on: date) -> None:
        bill_id = item.bill_id
        fee = self.entity.late_fee_minor(item.open_minor)
        post(self.conn, self.account_id, [(RECEIVABLE, fee, "fee"), (FEES, -fee, "fee")], self.now, bill_id=bill_id,
             memo=f"late fee on bill {bill_id}", created_by="collections")
        self.take(bill_id, "late_fee", item.open_minor, None)
        self.take(bill_id, "reminder", item.open_minor,
                  {"bill_id": bill_id, "due_on": due_on, "open_minor": item.open_minor, "fee_minor": fee})
        self.summary.late_fees += 1
        self.summary.late_fees_minor += fee
        self.summary.reminders += 1

    def disconnect_eligible(self, bill_id: int, total_past_due: int, services: list[str], steps: dict) -> None:
        """Each disconnectable service: the eligibility step (a notice) once, then, on every run until
        it is made, the disconnect order for a supervisor's approval unless the customer is protected
        that day."""
        for service in services:
            if service not in self.entity.disconnect_services:
                continue
            if (bill_id, "disconnect_eligible", service) not in steps:
                self.take(bill_id, "disconnect_eligible", total_past_due,
                          {"service": service, "past_due_minor": total_past_due}, service)
                self.summary.disconnect_eligible += 1
            done = order_disconnect(self.conn, self.account_id, self.account_no, self.entity, bill_id, service,
                                    total_past_due, self.today)
            if done == "ordered":
                self.summary.disconnects_ordered += 1
                self.summary.steps.append((self.account_no, bill_id, "disconnect_ordered", service))
            elif done.startswith("withheld:"):
                self.summary.disconnects_withheld += 1


def _arrangement_holds(conn, account_id: int, account_no: str, entity: Entity, today: date, now: datetime,
                       summary: CollectionSummary) -> bool:
    """True while an active arrangement is kept (the sequence pauses); completes or breaks it otherwise."""
    row = stored.active_arrangement(conn, account_id)
    if row is None:
        return False
    arrangement_id, total, created_at = row
    paid = stored.paid_since(conn, account_id, RECEIVABLE, created_at)
    if paid >= total:
        stored.close_arrangement(conn, arrangement_id, "completed", now)
        summary.arrangements_completed += 1
        return False
    if paid >= stored.installments_due(conn, arrangement_id, entity.grace_days, today):
        return True
    stored.close_arrangement(conn, arrangement_id, "broken", now)
    notices.send(conn, account_id, "arrangement_broken", {"phone": entity.phone})
    summary.arrangements_broken += 1
    return False


def create_arrangement(conn: psycopg.Connection, account_id: int, installments: int, first_due: date,
                       every_days: int, actor: str, reason: str, now: datetime, entity: Entity | None = None) -> int:
    """Spread the account's balance over equal installments (the first takes the rounding remainder).
    With the account's ``entity``: its disconnect orders in progress are cancelled and a service point a
    disconnect left disconnected is ordered reconnected (with the entity's fee)."""
    require_who_and_why(actor, reason, "a payment arrangement needs who made it and why")
    if installments < 1 or every_days < 1:
        raise BadArrangement("installments and days between them must be at least 1")
    conn.autocommit = True
    with conn.transaction():
        lock_account(conn, account_id)
        balance = account_receivable(conn, account_id).balance_minor
        if balance < installments:
            raise NothingOwed("the account owes too little to arrange in installments")
        if stored.active_arrangement(conn, account_id) is not None:
            raise ArrangementExists("the account has an active payment arrangement")
        share, remainder = divmod(balance, installments)
        arrangement_id = stored.insert_arrangement(
            conn, account_id, balance, first_due, actor, reason, now,
            [(first_due + timedelta(days=every_days * number), share + (remainder if number == 0 else 0))
             for number in range(installments)])
        notices.send(conn, account_id, "arrangement",
                     {"installments": installments, "first_due": first_due, "every_days": every_days})
        if entity is not None:
            reconnect_if_settled(conn, account_id, entity, now, actor, f"payment arrangement {arrangement_id}")
    return arrangement_id
