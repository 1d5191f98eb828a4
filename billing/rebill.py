"""Cancel and rebill one bill: the bill is cancelled (its postings reversed) unless it was already, and
its account is billed again for the period from the reads as they are now. What changed is shown
line by line: each charge as billed and as rebilled. The command line and the staff API both use it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from billing.bill_run import run_bill_run
from billing.corrections import cancel_bill, period_of
from billing.entities import Entity
from storage import bill_records as records
from storage.bills import bill_status


@dataclass
class Rebilled:
    bill_id: int
    rebill_id: int | None
    held: dict[str, str] = field(default_factory=dict)  # account_no -> why the rebill was not issued
    nothing_left: bool = False  # the account's agreements all stopped in the period: final bills take the days
    differences: list[dict] = field(default_factory=list)

    def document(self) -> dict:
        return {"bill_id": self.bill_id, "rebill_id": self.rebill_id, "held": self.held,
                "nothing_left": self.nothing_left, "differences": self.differences}


def rebill(conn: psycopg.Connection, bill_id: int, tariffs: dict, entities: dict[str, Entity], actor: str,
           reason: str, now: datetime) -> Rebilled:
    if bill_status(conn, bill_id) == "issued":
        cancel_bill(conn, bill_id, actor, reason, now)
    period_id, account_id = period_of(conn, bill_id)
    result = run_bill_run(conn, period_id, tariffs, entities=entities, account_ids=[account_id], requested_by=actor,
                          clock=lambda: now)
    if not result.bill_ids:
        held = {**result.accounts_held, **result.accounts_failed}
        return Rebilled(bill_id, None, held, nothing_left=not held)
    return Rebilled(bill_id, result.bill_ids[0], differences=differences(conn, bill_id, result.bill_ids[0]))


def differences(conn: psycopg.Connection, before: int, after: int) -> list[dict]:
    """Each line of either bill, as billed and as rebilled (None where a bill has no such line), matched
    by service and description, in the order of the rebill then of the old bill."""
    def lines(bill_id: int) -> dict[tuple[str, str], tuple]:
        found = {}
        for _, service, description, quantity, unit, _, amount, _ in records.bill_lines(conn, bill_id):
            key = (service, description)
            if key in found:  # the same charge twice (two agreements): add them up
                q, u, a = found[key]
                found[key] = ((q or 0) + (quantity or 0) if quantity is not None else q, unit, a + amount)
            else:
                found[key] = (quantity, unit, amount)
        return found

    old, new = lines(before), lines(after)
    keys = list(new) + [k for k in old if k not in new]
    return [{"service": service, "description": description,
             "unit": (new.get((service, description)) or old[(service, description)])[1],
             "quantity_before": _text(old.get((service, description), (None,))[0]),
             "quantity_after": _text(new.get((service, description), (None,))[0]),
             "amount_before_minor": old[(service, description)][2] if (service, description) in old else None,
             "amount_after_minor": new[(service, description)][2] if (service, description) in new else None,
             "change_minor": (new.get((service, description), (0, 0, 0))[2]
                              - old.get((service, description), (0, 0, 0))[2])}
            for service, description in keys]


def _text(quantity) -> str | None:
    return None if quantity is None else format(quantity.normalize() if hasattr(quantity, "normalize") else quantity,
                                                "f")
