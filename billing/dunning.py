"""Delinquency: what happens to a bill that is not paid by its due date plus the entity's grace days.

Per past-due bill, in order, each step once (``collection_steps`` is unique per bill, step and
service, so running collections twice on a day does nothing twice):

1. ``late_fee`` (a percentage of the past-due amount, at least the minimum) and ``reminder``;
2. ``final_notice`` after ``final_notice_after_days`` more;
3. ``disconnect_eligible`` per service after ``disconnect_after_days`` more, if the account's past-due
   amount is at least the entity's minimum.

An active payment arrangement pauses the sequence while its installments are kept; one that falls
behind is marked broken (with a notice) and the sequence resumes. What is past due comes from the
ledger alone (:func:`billing.ledger.receivable`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import psycopg

from billing.errors import ArrangementExists, BadArrangement, NothingOwed, ReasonRequired
from billing.ledger import FEES, RECEIVABLE
from billing.notices import create_notice
from billing.entities import Entity, entity_for
from billing.postings import account_receivable, lock_account, post
from rating.money import format_minor


@dataclass
class CollectionSummary:
    accounts_checked: int = 0
    late_fees: int = 0
    late_fees_minor: int = 0
    reminders: int = 0
    final_notices: int = 0
    disconnect_eligible: int = 0
    paused_by_arrangement: int = 0
    arrangements_completed: int = 0
    arrangements_broken: int = 0
    steps: list[tuple[str, int, str, str]] = field(default_factory=list)  # account_no, bill, step, service


def run_collections(conn: psycopg.Connection, entities: dict[str, Entity], today: date, now: datetime) -> CollectionSummary:
    conn.autocommit = True
    summary = CollectionSummary()
    smallest_grace = min(e.grace_days for e in entities.values())
    candidates = conn.execute(
        "select account_id from bills where status = 'issued' and due_date is not null and due_date + %s < %s "
        "union select account_id from payment_arrangements where status = 'active' order by 1",
        (smallest_grace, today)).fetchall()
    for (account_id,) in candidates:
        with conn.transaction():
            _collect_account(conn, account_id, entities, today, now, summary)
    return summary


def _collect_account(conn, account_id: int, entities, today: date, now: datetime, summary: CollectionSummary) -> None:
    _, account_no, currency = lock_account(conn, account_id)
    entity_code = conn.execute("select billing_entity from accounts where id = %s", (account_id,)).fetchone()[0]
    entity = entity_for(entities, entity_code)
    summary.accounts_checked += 1
    if _arrangement_holds(conn, account_id, account_no, entity, today, now, summary):
        summary.paused_by_arrangement += 1
        return
    receivable = account_receivable(conn, account_id)
    items = [i for i in receivable.open_items() if i.entry_type == "bill" and i.bill_id is not None]
    if not items:
        return
    due = dict(conn.execute("select id, due_date from bills where id = any(%s) and due_date is not null",
                            ([i.bill_id for i in items],)).fetchall())
    past_due = [i for i in items if i.bill_id in due and due[i.bill_id] + timedelta(days=entity.grace_days) < today]
    if not past_due:
        return
    total_past_due = sum(i.open_minor for i in past_due)
    steps = {}
    for bill_id, step, service, business_date in conn.execute(
            "select bill_id, step, service, business_date from collection_steps where bill_id = any(%s)",
            ([i.bill_id for i in past_due],)).fetchall():
        steps[(bill_id, step, service)] = business_date
    services = [r[0] for r in conn.execute(
        "select distinct service from service_agreements where account_id = %s and start_date <= %s "
        "and (end_date is null or end_date > %s) order by 1", (account_id, today, today)).fetchall()]

    def take(bill_id: int, step: str, amount: int, subject: str, body: str, service: str = "") -> None:
        notice_id = create_notice(conn, account_id, step, subject, body, bill_id) if subject else None
        conn.execute("insert into collection_steps (account_id, bill_id, step, service, business_date, amount_minor, "
                     "notice_id) values (%s, %s, %s, %s, %s, %s, %s)",
                     (account_id, bill_id, step, service, today, amount, notice_id))
        summary.steps.append((account_no, bill_id, step, service))

    money = lambda minor: f"{format_minor(minor, currency)} {currency}"  # noqa: E731
    for item in past_due:
        bill_id = item.bill_id
        if (bill_id, "late_fee", "") not in steps:
            fee = entity.late_fee_minor(item.open_minor)
            post(conn, account_id, [(RECEIVABLE, fee, "fee"), (FEES, -fee, "fee")], now, bill_id=bill_id,
                 memo=f"late fee on bill {bill_id}", created_by="collections")
            take(bill_id, "late_fee", item.open_minor, "", "")
            take(bill_id, "reminder", item.open_minor, f"Reminder: bill {bill_id} is past due",
                 f"Bill {bill_id} was due on {due[bill_id]}; {money(item.open_minor)} is unpaid. A late fee of "
                 f"{money(fee)} has been added. Please pay now or call {entity.phone} to arrange payments.")
            summary.late_fees += 1
            summary.late_fees_minor += fee
            summary.reminders += 1
            continue
        reminded = steps.get((bill_id, "reminder", ""))
        if (bill_id, "final_notice", "") not in steps:
            if reminded and today >= reminded + timedelta(days=entity.final_notice_after_days):
                take(bill_id, "final_notice", item.open_minor, f"Final notice: bill {bill_id}",
                     f"{money(total_past_due)} is past due on your account. If it is not paid within "
                     f"{entity.disconnect_after_days} days, your service may be disconnected.")
                summary.final_notices += 1
            continue
        final = steps[(bill_id, "final_notice", "")]
        if today < final + timedelta(days=entity.disconnect_after_days) or total_past_due < entity.disconnect_minimum_minor:
            continue
        for service in services:
            if service in entity.disconnect_services and (bill_id, "disconnect_eligible", service) not in steps:
                take(bill_id, "disconnect_eligible", total_past_due, f"{service.capitalize()} service: disconnection",
                     f"Your {service} service is now eligible for disconnection for {money(total_past_due)} past due. "
                     f"Pay now or call {entity.phone}.", service)
                summary.disconnect_eligible += 1


def _arrangement_holds(conn, account_id: int, account_no: str, entity: Entity, today: date, now: datetime,
                       summary: CollectionSummary) -> bool:
    """True while an active arrangement is kept (the sequence pauses); completes or breaks it otherwise."""
    row = conn.execute("select id, total_minor, created_at from payment_arrangements "
                       "where account_id = %s and status = 'active'", (account_id,)).fetchone()
    if row is None:
        return False
    arrangement_id, total, created_at = row
    paid = -int(conn.execute(
        "select coalesce(sum(amount_minor), 0) from ledger_entries where account_id = %s and ledger_account = %s "
        "and entry_type in ('payment', 'payment_return') and posted_at >= %s",
        (account_id, RECEIVABLE, created_at)).fetchone()[0])
    if paid >= total:
        conn.execute("update payment_arrangements set status = 'completed', closed_at = %s where id = %s",
                     (now, arrangement_id))
        summary.arrangements_completed += 1
        return False
    owed = int(conn.execute(
        "select coalesce(sum(amount_minor), 0) from arrangement_installments where arrangement_id = %s "
        "and due_on + %s < %s", (arrangement_id, entity.grace_days, today)).fetchone()[0])
    if paid >= owed:
        return True
    conn.execute("update payment_arrangements set status = 'broken', closed_at = %s where id = %s", (now, arrangement_id))
    create_notice(conn, account_id, "arrangement_broken", "Your payment arrangement has ended",
                  f"Installments of your payment arrangement were not paid on time; the collection of the "
                  f"past-due amount resumes. Call {entity.phone} for help.")
    summary.arrangements_broken += 1
    return False


def create_arrangement(conn: psycopg.Connection, account_id: int, installments: int, first_due: date,
                       every_days: int, actor: str, reason: str, now: datetime) -> int:
    """Spread the account's balance over equal installments (the first takes the rounding remainder)."""
    if not (actor or "").strip() or not (reason or "").strip():
        raise ReasonRequired("a payment arrangement needs who made it and why")
    if installments < 1 or every_days < 1:
        raise BadArrangement("installments and days between them must be at least 1")
    conn.autocommit = True
    with conn.transaction():
        lock_account(conn, account_id)
        balance = account_receivable(conn, account_id).balance_minor
        if balance < installments:
            raise NothingOwed("the account owes too little to arrange in installments")
        if conn.execute("select 1 from payment_arrangements where account_id = %s and status = 'active'",
                        (account_id,)).fetchone():
            raise ArrangementExists("the account has an active payment arrangement")
        arrangement_id = conn.execute(
            "insert into payment_arrangements (account_id, total_minor, starts_on, status, created_by, reason, created_at) "
            "values (%s, %s, %s, 'active', %s, %s, %s) returning id",
            (account_id, balance, first_due, actor, reason, now)).fetchone()[0]
        share, remainder = divmod(balance, installments)
        for number in range(installments):
            conn.execute("insert into arrangement_installments (arrangement_id, number, due_on, amount_minor) "
                         "values (%s, %s, %s, %s)", (arrangement_id, number + 1,
                                                     first_due + timedelta(days=every_days * number),
                                                     share + (remainder if number == 0 else 0)))
        create_notice(conn, account_id, "arrangement", "Your payment arrangement",
                      f"{installments} installments starting {first_due}, every {every_days} days.")
    return arrangement_id
