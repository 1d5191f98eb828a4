"""Deposits: what starting service needs under the billing entity's policy, billed as an open item of its
own and held in the deposit liability ledger account; applied to the agreement's final bill (a credit
left over is paid back), or credited back after the entity's months of on-time payment.

Postings (debit positive): billing a deposit debits the receivable and credits ``deposits``;
applying or crediting it back reverses that, so the liability is always the held deposits' sum."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import psycopg

from billing.entities import Entity, entity_for
from billing.ledger import CASH, RECEIVABLE
from billing.postings import account_id_of, account_receivable, lock_account, post
from config.errors import require_who_and_why
from storage import deposits as stored
from storage.accounts import billing_entity_of

DEPOSITS = "deposits"  # the liability: customers' money held
HELD, WAIVED, APPLIED, REFUNDED, NONE = "held", "waived", "applied", "refunded", "none"


@dataclass(frozen=True)
class DepositOutcome:
    status: str  # HELD (billed), WAIVED, or NONE (the policy asks none)
    amount_minor: int
    reason: str | None = None
    deposit_id: int | None = None

    def document(self) -> dict:
        return {"status": self.status, "amount_minor": self.amount_minor, "reason": self.reason}


def required(policy: tuple[str, Decimal] | None, average_bill_minor: int | None) -> tuple[int, str | None]:
    """(amount in minor units, why none) under the policy: a fixed amount, or a multiple of the premise's
    average bill (none without a bill history to average)."""
    if policy is None:
        return 0, "the billing entity asks no deposit for this service"
    kind, value = policy
    if kind == "fixed":
        return int(value), None if value else "the policy's amount is zero"
    if not average_bill_minor:
        return 0, "no bill history at the premise to base the deposit on"
    return int((value * average_bill_minor).quantize(Decimal(1), ROUND_HALF_UP)), None


def charge_deposit(conn: psycopg.Connection, account_no: str, agreement_id: int, service: str,
                   entities: dict[str, Entity], actor: str, reason: str, posted_at: datetime,
                   waive: str | None = None) -> DepositOutcome:
    """Bill the deposit the start of ``agreement_id`` needs (or record it waived, with why)."""
    require_who_and_why(actor, reason, "a deposit needs who and why")
    with conn.transaction():
        account_id = account_id_of(conn, account_no)
        lock_account(conn, account_id)
        entity = entity_for(entities, billing_entity_of(conn, account_id))
        average = stored.premise_average_bill(conn, agreement_id, posted_at - timedelta(days=366))
        amount, none_why = required(entity.deposit_policy(service), average)
        if not amount:
            return DepositOutcome(NONE, 0, none_why)
        if waive:
            deposit_id = stored.insert_deposit(conn, account_id, agreement_id, amount, WAIVED, waive, None, actor)
            return DepositOutcome(WAIVED, amount, waive, deposit_id)
        transaction_id = post(conn, account_id, [(RECEIVABLE, amount, "deposit"), (DEPOSITS, -amount, "deposit")],
                              posted_at, memo=f"deposit for {service} service: {reason}", created_by=actor)
        deposit_id = stored.insert_deposit(conn, account_id, agreement_id, amount, HELD, reason, transaction_id, actor)
    return DepositOutcome(HELD, amount, None, deposit_id)


def charging_deposits(conn: psycopg.Connection, entities: dict[str, Entity], actor: str, reason: str,
                      posted_at: datetime) -> Callable[[str, int, str], dict]:
    """What a service started from a request does about its deposit (``cis.service_requests``' on_start)."""
    return lambda account_no, agreement_id, service: charge_deposit(
        conn, account_no, agreement_id, service, entities, actor, reason, posted_at).document()


def apply_to_final_bill(conn: psycopg.Connection, agreement_id: int, posted_at: datetime, bill_id: int | None) -> int:
    """Apply the agreement's held deposits to its final bill (None: earlier bills took every day served,
    there is none) and pay back a credit left when the account has no service any more; returns the
    amount applied."""
    applied = 0
    for deposit_id, account_id, amount in stored.held_for_agreement(conn, agreement_id):
        lock_account(conn, account_id)
        post(conn, account_id, [(DEPOSITS, amount, "deposit_applied"), (RECEIVABLE, -amount, "deposit_applied")],
             posted_at, bill_id=bill_id, memo="deposit applied to the final bill", created_by="m2c bills final")
        stored.settle(conn, deposit_id, APPLIED)
        applied += amount
        credit = -account_receivable(conn, account_id).balance_minor
        if credit > 0 and not stored.has_service(conn, account_id):
            post(conn, account_id, [(RECEIVABLE, credit, "refund"), (CASH, -credit, "refund")], posted_at,
                 memo="credit left after the final bill, paid back", created_by="m2c bills final")
    return applied


def review(conn: psycopg.Connection, entities: dict[str, Entity], now: datetime) -> list[tuple[int, int, int]]:
    """Credit back the deposits held for the entity's months with no late fee or returned payment since;
    returns (deposit id, account id, amount) of each."""
    credited = []
    for deposit_id, account_id, amount, since in stored.held_since(conn, now):
        entity = entity_for(entities, billing_entity_of(conn, account_id))
        if since > now - timedelta(days=round(30.4375 * entity.deposit_refund_after_months)):
            continue
        if stored.late_fees_since(conn, account_id, since):
            continue
        with conn.transaction():
            lock_account(conn, account_id)
            post(conn, account_id, [(DEPOSITS, amount, "deposit_refund"), (RECEIVABLE, -amount, "deposit_refund")],
                 now, memo=f"deposit credited back after {entity.deposit_refund_after_months} months paid on time",
                 created_by="m2c deposits review")
            stored.settle(conn, deposit_id, REFUNDED)
        credited.append((deposit_id, account_id, amount))
    return credited
