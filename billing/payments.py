"""Payments: taken once (a payment is unique by channel and reference, so a file imported twice
applies once), matched to an account, posted to the ledger (cash against the customer's
receivable; the oldest open item is settled first, see :mod:`billing.ledger`), or queued for staff
when it matches no account or invoice. A returned payment (NSF) is reversed with a fee."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from billing.errors import (AlreadyReturned, BadAmount, MoreThanCredit, NoReference, NotUnmatched, ReasonRequired,
                            UnknownPayment)
from billing.ledger import CASH, FEES, RECEIVABLE
from billing.notices import create_notice
from billing.entities import Entity, entity_for
from billing.postings import account_receivable, lock_account, post, to_minor_exact


@dataclass(frozen=True)
class PaymentIn:
    channel: str  # api, cli, lockbox, portal
    reference: str  # unique per channel: the bank's trace number, the gateway's transaction id
    amount: Decimal  # in the currency's major unit
    received_on: date
    account_no: str | None = None
    invoice_no: str | None = None  # a bill id as printed on the remittance stub
    method: str = "check"
    currency: str = "USD"
    source_file: str | None = None
    source_line: int | None = None


@dataclass(frozen=True)
class PaymentOutcome:
    payment_id: int
    status: str  # applied, unmatched (with the reason), duplicate (taken before: nothing done)
    reason: str | None = None
    account_id: int | None = None


def receive_payment(conn: psycopg.Connection, payment: PaymentIn, posted_at: datetime) -> PaymentOutcome:
    if not payment.reference or not payment.reference.strip():
        raise NoReference("a payment needs its unique reference")
    amount_minor = to_minor_exact(payment.amount, payment.currency, "payment amount")
    if amount_minor <= 0:
        raise BadAmount(f"a payment must be positive, got {payment.amount}")
    with conn.transaction():
        account_id, reason = _match(conn, payment)
        if account_id is not None:
            lock_account(conn, account_id)
        row = conn.execute(
            "insert into payments (channel, reference, account_id, account_ref, invoice_ref, amount_minor, currency, "
            "method, received_on, status, exception_reason, source_file, source_line) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "on conflict (channel, reference) do nothing returning id",
            (payment.channel, payment.reference.strip(), account_id, payment.account_no, payment.invoice_no,
             amount_minor, payment.currency, payment.method, payment.received_on,
             "applied" if account_id is not None else "unmatched", reason, payment.source_file,
             payment.source_line)).fetchone()
        if row is None:
            existing = conn.execute("select id, account_id from payments where channel = %s and reference = %s",
                                    (payment.channel, payment.reference.strip())).fetchone()
            return PaymentOutcome(existing[0], "duplicate", "taken before", existing[1])
        payment_id = row[0]
        if account_id is None:
            return PaymentOutcome(payment_id, "unmatched", reason)
        _post_payment(conn, account_id, payment_id, amount_minor, posted_at, payment.reference)
    return PaymentOutcome(payment_id, "applied", None, account_id)


def _match(conn: psycopg.Connection, payment: PaymentIn) -> tuple[int | None, str | None]:
    """(account id, None) or (None, why the payment matches nothing)."""
    account = None
    if payment.account_no:
        row = conn.execute("select id, currency from accounts where account_no = %s",
                           (payment.account_no.strip(),)).fetchone()
        if row is None:
            return None, "unknown_account"
        if row[1] != payment.currency:
            return None, "currency_mismatch"
        account = row[0]
    if payment.invoice_no:
        bill = None
        if payment.invoice_no.strip().isdigit():
            bill = conn.execute("select account_id from bills where id = %s",
                                (int(payment.invoice_no.strip()),)).fetchone()
        if bill is None:
            return None, "unknown_invoice"
        if account is not None and bill[0] != account:
            return None, "invoice_not_on_account"
        account = bill[0]
    if account is None:
        return None, "no_account_or_invoice"
    return account, None


def _post_payment(conn, account_id: int, payment_id: int, amount_minor: int, posted_at: datetime,
                  reference: str) -> int:
    return post(conn, account_id, [(CASH, amount_minor, "payment"), (RECEIVABLE, -amount_minor, "payment")],
                posted_at, payment_id=payment_id, memo=f"payment {reference}")


def match_payment(conn: psycopg.Connection, payment_id: int, account_id: int, actor: str, reason: str,
                  posted_at: datetime) -> None:
    """Staff apply an unmatched payment to the account it belongs to."""
    _who_and_why(actor, reason)
    with conn.transaction():
        lock_account(conn, account_id)
        payment = conn.execute("select status, amount_minor, reference from payments where id = %s for update",
                               (payment_id,)).fetchone()
        if payment is None:
            raise UnknownPayment(f"no payment {payment_id}")
        if payment[0] != "unmatched":
            raise NotUnmatched(f"payment {payment_id} is {payment[0]}, not unmatched")
        conn.execute("update payments set status = 'applied', account_id = %s where id = %s", (account_id, payment_id))
        _post_payment(conn, account_id, payment_id, payment[1], posted_at, payment[2])
        conn.execute("insert into payment_actions (payment_id, action, actor, reason, details) "
                     "values (%s, 'match', %s, %s, jsonb_build_object('account_id', %s::int8))",
                     (payment_id, actor, reason, account_id))


def return_payment(conn: psycopg.Connection, payment_id: int, actor: str, reason: str, posted_at: datetime,
                   entities: dict[str, Entity]) -> int:
    """A payment the bank returned (NSF, closed account, stopped): its posting is reversed and the
    entity's returned-payment fee charged, as two items so the fee is its own open item. Returns the
    fee in minor units (0 for a payment that was never applied)."""
    _who_and_why(actor, reason)
    with conn.transaction():
        payment = conn.execute("select status, amount_minor, account_id, reference from payments where id = %s",
                               (payment_id,)).fetchone()
        if payment is None:
            raise UnknownPayment(f"no payment {payment_id}")
        status, amount_minor, account_id, reference = payment
        if status == "returned":
            raise AlreadyReturned(f"payment {payment_id} was returned already")
        fee = 0
        if status == "applied":
            lock_account(conn, account_id)
            entity_code = conn.execute("select billing_entity from accounts where id = %s", (account_id,)).fetchone()[0]
            fee = entity_for(entities, entity_code).nsf_fee_minor
            post(conn, account_id, [(RECEIVABLE, amount_minor, "payment_return"), (CASH, -amount_minor, "payment_return")],
                 posted_at, payment_id=payment_id, memo=f"returned: {reason}", created_by=actor)
            if fee:
                post(conn, account_id, [(RECEIVABLE, fee, "fee"), (FEES, -fee, "fee")], posted_at,
                     payment_id=payment_id, memo="returned payment fee", created_by=actor)
            create_notice(conn, account_id, "payment_returned", "Your payment was returned",
                          f"Your payment {reference} was returned by your bank ({reason}). "
                          f"It has been reversed on your account and a fee was charged.")
        conn.execute("update payments set status = 'returned', returned_at = %s, return_reason = %s where id = %s",
                     (posted_at, reason, payment_id))
        conn.execute("insert into payment_actions (payment_id, action, actor, reason, details) "
                     "values (%s, 'return', %s, %s, jsonb_build_object('fee_minor', %s::int8))",
                     (payment_id, actor, reason, fee))
    return fee


def refund(conn: psycopg.Connection, account_id: int, amount_minor: int, actor: str, reason: str,
           posted_at: datetime) -> int:
    """Pay a credit balance back to the customer (cash out): at most the account's credit."""
    _who_and_why(actor, reason)
    if amount_minor <= 0:
        raise BadAmount("a refund is a positive amount")
    with conn.transaction():
        lock_account(conn, account_id)
        credit = -account_receivable(conn, account_id).balance_minor
        if amount_minor > credit:
            raise MoreThanCredit(f"the account's credit is {max(credit, 0)} minor units")
        return post(conn, account_id, [(RECEIVABLE, amount_minor, "refund"), (CASH, -amount_minor, "refund")],
                    posted_at, memo=f"refund: {reason}", created_by=actor)


def _who_and_why(actor: str, reason: str) -> None:
    if not (actor or "").strip() or not (reason or "").strip():
        raise ReasonRequired("staff actions on payments need who and why")
