"""Autopay: each bill of an enrolled account is paid on its due day with the account's stored
payment-gateway token (the gateway's idempotency key is the bill's, so a rerun never charges twice).
What is still open of the bill is charged; every attempt is recorded, an approved one posted as a
payment (channel ``autopay``), a declined one told to the customer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import psycopg

from billing.entities import Entity
from billing.payments import PaymentIn, receive_payment
from billing.postings import account_receivable
from rating.money import MINOR_UNITS
from storage import autopay as stored
from cis import notices


class Charged(Protocol):
    approved: bool
    reference: str
    message: str


class Gateway(Protocol):
    def charge(self, token: str, amount_minor: int, currency: str, idempotency_key: str) -> Charged: ...


@dataclass
class AutopaySummary:
    bills: int = 0
    approved: int = 0
    approved_minor: int = 0
    declined: int = 0
    nothing_open: int = 0
    declined_accounts: list[str] = field(default_factory=list)

    def document(self) -> dict:
        return {"bills": self.bills, "approved": self.approved, "approved_minor": self.approved_minor,
                "declined": self.declined, "nothing_open": self.nothing_open,
                "declined_accounts": self.declined_accounts}


def run_autopay(conn: psycopg.Connection, gateway: Gateway, entities: dict[str, Entity], today: date,
                now: datetime) -> AutopaySummary:
    conn.autocommit = True
    summary = AutopaySummary()
    for bill_id, account_id, account_no, currency, token in stored.due_bills(conn, today):
        summary.bills += 1
        open_minor = next((i.open_minor for i in account_receivable(conn, account_id).open_items()
                           if i.bill_id == bill_id and i.entry_type == "bill"), 0)
        if open_minor <= 0:
            summary.nothing_open += 1
            continue
        charge = gateway.charge(token, open_minor, currency, f"autopay:{bill_id}")
        with conn.transaction():
            payment_id = None
            if charge.approved:
                outcome = receive_payment(conn, PaymentIn("autopay", charge.reference,
                                                          Decimal(open_minor).scaleb(-MINOR_UNITS[currency]), today,
                                                          account_no=account_no, method="card", currency=currency),
                                          now, entities)
                payment_id = outcome.payment_id
            if not stored.record_attempt(conn, bill_id, account_id, open_minor,
                                         "approved" if charge.approved else "declined", charge.reference,
                                         charge.message, payment_id):
                continue
            if charge.approved:
                summary.approved += 1
                summary.approved_minor += open_minor
            else:
                summary.declined += 1
                summary.declined_accounts.append(account_no)
                notices.send(conn, account_id, "autopay_failed",
                             {"bill_id": bill_id, "amount_minor": open_minor, "reason": charge.message}, bill_id)
    return summary


def enroll(conn: psycopg.Connection, account_id: int, account_no: str, token: str | None, actor: str,
           reason: str) -> bool:
    """Enroll the account with a gateway token (None: end autopay); recorded, and confirmed to the
    customer by a notice. Returns whether it is enrolled after."""
    from storage.customers import record_event

    with conn.transaction():
        if token is None:
            ended = stored.end(conn, account_id)
            if ended:
                record_event(conn, "autopay_ended", account_no, {}, actor, reason)
                notices.send(conn, account_id, "autopay_changed", {"enrolled": False})
            return False
        stored.enroll(conn, account_id, token, actor)
        record_event(conn, "autopay_enrolled", account_no, {"token_ends": token[-4:]}, actor, reason)
        notices.send(conn, account_id, "autopay_changed", {"enrolled": True, "token_ends": token[-4:]})
    return True


def status(conn: psycopg.Connection, account_id: int, limit: int = 12) -> dict:
    """Whether the account is on autopay, since when, and its latest attempts."""
    row = stored.enrollment(conn, account_id)
    return {"autopay": bool(row and row[0]), "enrolled_at": row[1].isoformat() if row and row[0] else None,
            "attempts": [{"bill_id": b, "amount_minor": a, "status": s, "message": m, "attempted_at": t.isoformat()}
                         for b, a, s, m, t in stored.attempts(conn, account_id)[:limit]]}
