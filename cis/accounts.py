"""Open an account: for a new customer (a person or a business) or an existing one, on a billing cycle,
with its bill delivery (print, e-mail or the portal; paperless means no paper copy). Recorded with who
opened it and why."""
from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from cis.errors import BadDelivery, BadEmail, BadName, NoEmailForDelivery, UnknownCustomer, UnknownCycle
from config.errors import require_who_and_why
from storage import customers as stored

DELIVERY = ("print", "email", "portal")
KINDS = ("person", "business")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class NewAccount:
    """What opening an account needs; ``customer_id`` names an existing customer, else one is made from
    ``name`` and the contact details."""

    cycle: str
    name: str | None = None
    customer_id: int | None = None
    kind: str = "person"
    email: str | None = None
    phone: str | None = None
    mailing_address: str | None = None
    delivery: str = "print"
    paperless: bool = False
    billing_entity: str = "default"


@dataclass(frozen=True)
class OpenedAccount:
    account_no: str
    account_id: int
    customer_id: int


def check(new: NewAccount) -> list[tuple[str, str]]:
    """Every problem of the request as (code, message); empty when it can be opened as asked (the
    cycle and an existing customer are checked against the records when it is)."""
    problems = []
    if new.customer_id is None and not (new.name or "").strip():
        problems.append((BadName.code, "a new customer needs a name"))
    if new.kind not in KINDS:
        problems.append((BadName.code, f"a customer is one of {KINDS}, not {new.kind!r}"))
    return problems + delivery_problems(new.email, new.delivery, new.paperless)


def delivery_problems(email: str | None, delivery: str, paperless: bool) -> list[tuple[str, str]]:
    """What is wrong with an e-mail address and a bill delivery, as (code, message): the same rules at
    opening an account and when its customer changes them (``cis.preferences``)."""
    problems = []
    if email is not None and not _EMAIL.match(email):
        problems.append((BadEmail.code, f"{email!r} is not an e-mail address"))
    if delivery not in DELIVERY:
        problems.append((BadDelivery.code, f"bill delivery is one of {DELIVERY}, not {delivery!r}"))
    elif paperless and delivery == "print":
        problems.append((BadDelivery.code, "a paperless account gets its bills by e-mail or in the portal"))
    return problems


_ERRORS = {cls.code: cls for cls in (BadName, BadEmail, BadDelivery)}


def open_account(conn: psycopg.Connection, new: NewAccount, actor: str, reason: str) -> OpenedAccount:
    """Open the account (and its customer, when new) in one transaction, and record it."""
    require_who_and_why(actor, reason, "opening an account needs who and why")
    problems = check(new)
    if problems:
        code, message = problems[0]
        raise _ERRORS[code]("; ".join(m for _, m in problems))
    with conn.transaction():
        cycle = stored.cycle(conn, new.cycle)
        if cycle is None:
            raise UnknownCycle(f"no billing cycle {new.cycle!r} (see m2c cycles list)")
        if new.customer_id is not None:
            found = stored.customer(conn, new.customer_id)
            if found is None:
                raise UnknownCustomer(f"no customer {new.customer_id}")
            customer_id, _, name, email, mailing = found
            email = new.email or email
            mailing = new.mailing_address or mailing
        else:
            name, email, mailing = new.name.strip(), new.email, new.mailing_address
            customer_id = stored.insert_customer(conn, new.kind, name, email, new.phone, mailing, {}, actor)
        if new.delivery == "email" and not email:
            raise NoEmailForDelivery("bills by e-mail need the customer's e-mail address")
        account_no = stored.next_account_number(conn)
        account_id = stored.insert_account(conn, account_no, customer_id, name, cycle[0], cycle[1], new.delivery,
                                           new.paperless, email, mailing, new.billing_entity)
        stored.record_event(conn, "account_opened", account_no,
                            {"customer_id": customer_id, "cycle": new.cycle, "delivery": new.delivery,
                             "paperless": new.paperless, "new_customer": new.customer_id is None}, actor, reason)
    return OpenedAccount(account_no, account_id, customer_id)
