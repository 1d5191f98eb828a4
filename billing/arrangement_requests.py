"""A payment arrangement a customer asks for: granted at once within the billing entity's rules (at most
``arrangement_max_installments`` installments every ``arrangement_every_days``, a down payment of at
least ``arrangement_down_payment_percent`` of the balance, no active arrangement, none broken in the
last year); anything else becomes a case for staff to decide, with the rule that stopped it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import psycopg

from billing.dunning import create_arrangement
from billing.entities import Entity
from billing.postings import account_receivable
from storage import dunning as stored


@dataclass(frozen=True)
class Decision:
    granted: bool
    rule: str | None  # what stopped it
    why: str
    minimum_down_minor: int


def minimum_down(balance_minor: int, entity: Entity) -> int:
    """The least down payment of a balance, rounded up to the minor unit."""
    share = Decimal(balance_minor) * entity.arrangement_down_payment_percent / 100
    return int(share.to_integral_value(ROUND_CEILING))


def decide(balance_minor: int, installments: int, down_minor: int, entity: Entity, has_active: bool,
           broken_recently: bool) -> Decision:
    """Whether the request is within the entity's rules (pure)."""
    least = minimum_down(balance_minor, entity)
    if balance_minor <= 0:
        return Decision(False, "nothing_owed", "the account owes nothing", least)
    if has_active:
        return Decision(False, "arrangement_exists", "the account has an active payment arrangement", least)
    if broken_recently:
        return Decision(False, "broken_recently", "an arrangement was broken in the last year", least)
    if not 1 <= installments <= entity.arrangement_max_installments:
        return Decision(False, "too_many_installments",
                        f"at most {entity.arrangement_max_installments} installments are granted at once", least)
    if down_minor < least:
        return Decision(False, "down_payment_too_small",
                        f"the down payment must be at least {entity.arrangement_down_payment_percent}% of the balance",
                        least)
    if down_minor >= balance_minor or balance_minor - down_minor < installments:
        return Decision(False, "nothing_to_arrange", "the down payment leaves too little to spread", least)
    return Decision(True, None, "within the entity's rules", least)


def check(conn: psycopg.Connection, account_id: int, installments: int, down_minor: int, entity: Entity,
          now: datetime) -> tuple[Decision, int]:
    """The decision on the account as it stands, and its balance."""
    balance = account_receivable(conn, account_id).balance_minor
    broken = stored.broken_since(conn, account_id, now - timedelta(days=365))
    return decide(balance, installments, down_minor, entity, stored.active_arrangement(conn, account_id) is not None,
                  broken), balance


def grant(conn: psycopg.Connection, account_id: int, installments: int, entity: Entity, actor: str,
          now: datetime) -> int:
    """The arrangement of what is left after the down payment, the first installment one period on."""
    first_due = now.date() + timedelta(days=entity.arrangement_every_days)
    return create_arrangement(conn, account_id, installments, first_due, entity.arrangement_every_days, actor,
                              f"asked for by the customer: {installments} installments", now, entity)

