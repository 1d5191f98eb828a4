"""Payments: taken once (a payment is unique by channel and reference, so a file imported twice
applies once), matched to an account, posted to the ledger (cash against the customer's
receivable; the oldest open item is settled first, see :mod:`billing.ledger`), or queued for staff
when it matches no account or invoice. A returned payment (NSF) is reversed with a fee."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import psycopg

from billing.errors import AlreadyReturned, BadAmount, MoreThanCredit, NoReference, NotUnmatched, UnknownPayment
from billing.ledger import CASH, FEES, RECEIVABLE
from cis import notices
from billing.entities import Entity, entity_for
from billing.postings import account_receivable, lock_account, post, to_minor_exact
from config.errors import require_who_and_why
from storage import payments as stored
from storage.accounts import billing_entity_of


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


def receive_payment(conn: psycopg.Connection, payment: PaymentIn, posted_at: datetime,
                    entities: dict[str, Entity] | None = None) -> PaymentOutcome:
    """Take a payment. One that leaves the account owing nothing cancels its disconnect orders in
    progress and orders a disconnected service reconnected (``billing.disconnects``; ``entities``: the
    deployment's, for the reconnect fee — the packaged file's when not given)."""
    if not payment.reference or not payment.reference.strip():
        raise NoReference("a payment needs its unique reference")
    amount_minor = to_minor_exact(payment.amount, payment.currency, "payment amount")
    if amount_minor <= 0:
        raise BadAmount(f"a payment must be positive, got {payment.amount}")
    with conn.transaction():
        account_id, reason = _match(conn, payment)
        if account_id is not None:
            lock_account(conn, account_id)
        payment_id = stored.insert(conn, payment.channel, payment.reference.strip(), account_id, payment.account_no,
                                   payment.invoice_no, amount_minor, payment.currency, payment.method,
                                   payment.received_on, "applied" if account_id is not None else "unmatched", reason,
                                   payment.source_file, payment.source_line)
        if payment_id is None:
            existing = stored.by_reference(conn, payment.channel, payment.reference.strip())
            return PaymentOutcome(existing[0], "duplicate", "taken before", existing[1])
        if account_id is None:
            return PaymentOutcome(payment_id, "unmatched", reason)
        _post_payment(conn, account_id, payment_id, amount_minor, posted_at, payment.reference)
        notices.send(conn, account_id, "payment_received", {"reference": payment.reference.strip(),
                                                            "amount_minor": amount_minor,
                                                            "received_on": payment.received_on})
        _settled(conn, account_id, entities, posted_at, f"payment {payment.reference.strip()}")
    return PaymentOutcome(payment_id, "applied", None, account_id)


def _settled(conn, account_id: int, entities: dict[str, Entity] | None, now: datetime, why: str) -> None:
    from billing.disconnects import reconnect_if_settled
    from billing.entities import load_entities
    from storage.orders import settlement_waits

    if not settlement_waits(conn, account_id):  # the entities are read only for an account with field work
        return
    entity = entity_for(entities if entities is not None else load_entities(), billing_entity_of(conn, account_id))
    reconnect_if_settled(conn, account_id, entity, now, "payments", why)


def _match(conn: psycopg.Connection, payment: PaymentIn) -> tuple[int | None, str | None]:
    """(account id, None) or (None, why the payment matches nothing)."""
    account = None
    if payment.account_no:
        row = stored.account_and_currency(conn, payment.account_no.strip())
        if row is None:
            return None, "unknown_account"
        if row[1] != payment.currency:
            return None, "currency_mismatch"
        account = row[0]
    if payment.invoice_no:
        billed = stored.account_of_bill(conn, int(payment.invoice_no.strip())) \
            if payment.invoice_no.strip().isdigit() else None
        if billed is None:
            return None, "unknown_invoice"
        if account is not None and billed != account:
            return None, "invoice_not_on_account"
        account = billed
    if account is None:
        return None, "no_account_or_invoice"
    return account, None


def _post_payment(conn, account_id: int, payment_id: int, amount_minor: int, posted_at: datetime,
                  reference: str) -> int:
    return post(conn, account_id, [(CASH, amount_minor, "payment"), (RECEIVABLE, -amount_minor, "payment")],
                posted_at, payment_id=payment_id, memo=f"payment {reference}")


def match_payment(conn: psycopg.Connection, payment_id: int, account_id: int, actor: str, reason: str,
                  posted_at: datetime, entities: dict[str, Entity] | None = None) -> None:
    """Staff apply an unmatched payment to the account it belongs to."""
    _who_and_why(actor, reason)
    with conn.transaction():
        lock_account(conn, account_id)
        payment = stored.lock_payment(conn, payment_id)
        if payment is None:
            raise UnknownPayment(f"no payment {payment_id}")
        if payment[0] != "unmatched":
            raise NotUnmatched(f"payment {payment_id} is {payment[0]}, not unmatched")
        stored.apply_to(conn, payment_id, account_id)
        _post_payment(conn, account_id, payment_id, payment[1], posted_at, payment[2])
        stored.record_action(conn, payment_id, "match", actor, reason, {"account_id": account_id})
        _settled(conn, account_id, entities, posted_at, f"payment {payment[2]} matched")


def return_payment(conn: psycopg.Connection, payment_id: int, actor: str, reason: str, posted_at: datetime,
                   entities: dict[str, Entity]) -> int:
    """A payment the bank returned (NSF, closed account, stopped): its posting is reversed and the
    entity's returned-payment fee charged, as two items so the fee is its own open item. Returns the
    fee in minor units (0 for a payment that was never applied)."""
    _who_and_why(actor, reason)
    with conn.transaction():
        payment = stored.payment(conn, payment_id)
        if payment is None:
            raise UnknownPayment(f"no payment {payment_id}")
        status, amount_minor, account_id, reference = payment
        if status == "returned":
            raise AlreadyReturned(f"payment {payment_id} was returned already")
        fee = 0
        if status == "applied":
            lock_account(conn, account_id)
            fee = entity_for(entities, billing_entity_of(conn, account_id)).nsf_fee_minor
            post(conn, account_id, [(RECEIVABLE, amount_minor, "payment_return"), (CASH, -amount_minor, "payment_return")],
                 posted_at, payment_id=payment_id, memo=f"returned: {reason}", created_by=actor)
            if fee:
                post(conn, account_id, [(RECEIVABLE, fee, "fee"), (FEES, -fee, "fee")], posted_at,
                     payment_id=payment_id, memo="returned payment fee", created_by=actor)
            notices.send(conn, account_id, "payment_returned",
                         {"reference": reference, "reason": reason, "fee_minor": fee})
        stored.mark_returned(conn, payment_id, posted_at, reason)
        stored.record_action(conn, payment_id, "return", actor, reason, {"fee_minor": fee})
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
    require_who_and_why(actor, reason, "staff actions on payments need who and why")
