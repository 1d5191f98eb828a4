"""Final bills: a stopped agreement's unbilled days, billed off-cycle as soon as their reads are in.

A final bill takes the agreement's days from the end of what its earlier bills took to its first day
no longer served, priced on the billing period the stop falls in (fixed charges and tier limits
prorated by days, as on any bill); the regular bill of that period leaves the agreement out. The
agreement's held deposit is applied to it, and a credit left when the account has no service any
more is paid back. It waits
(and says why) while reads are missing or while the period before is not billed yet; once the
cycle's wait for late reads (``close_after_days``) has passed since the stop, VEE estimates the reads
that never came, as cycle close does, and the bill goes out (marked estimated). Issuing is
idempotent: an agreement has at most one issued final bill."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import psycopg

from billing.bill_writer import account_terms, write_bills
from billing.deposits import apply_to_final_bill
from billing.entities import Entity, entity_for, load_entities
from billing.invoice import build_account_bill
from billing.pricing_inputs import histories as histories_for, interval_inputs
from storage import final_bills as stored
from storage.usage import usage_for
from vee.gap_fill import fill_missing_reads

BILLED, WAITING, COVERED = "billed", "waiting", "covered"


@dataclass(frozen=True)
class FinalOutcome:
    agreement_id: int
    account_no: str
    status: str  # BILLED, WAITING (reason says for what) or COVERED (earlier bills took every day)
    first_day: date
    end_day: date  # first day no longer served
    bill_id: int | None = None
    charges_minor: int = 0
    reason: str | None = None
    deposit_applied_minor: int = 0

    def document(self) -> dict:
        """As the command line (``--json``), the staff API and the staff page give it."""
        return {"agreement_id": self.agreement_id, "account_no": self.account_no, "status": self.status,
                "bill_id": self.bill_id, "period_start": self.first_day.isoformat(),
                "period_end": self.end_day.isoformat(), "charges_minor": self.charges_minor,
                "deposit_applied_minor": self.deposit_applied_minor, "reason": self.reason}


def issue_final_bills(conn: psycopg.Connection, tariffs: dict, entities: dict[str, Entity] | None = None,
                      clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                      requested_by: str = "m2c bills final") -> list[FinalOutcome]:
    """Issue every final bill that is ready; returns what became of each stopped agreement."""
    entities = entities or load_entities()
    stored.activate_started(conn, clock().date())
    return [_final(conn, row, tariffs, entities, clock, requested_by) for row in stored.stopped_agreements(conn)]


def _priced(conn, account_id: int, usage, tariffs, entity: Entity):
    usages = [usage]
    summaries, intervals = interval_inputs(conn, usages, tariffs)
    return build_account_bill(account_id, usages, tariffs, intervals, histories_for(conn, usages, tariffs),
                              allow_estimated=entity.allow_estimated_bills, summaries=summaries)


def _final(conn, row, tariffs, entities, clock, requested_by) -> FinalOutcome:
    agreement_id, account_id, account_no, start, end, period_id, billed_to, wait_days = row
    first = max(start, billed_to or start)
    if billed_to is not None and billed_to > end:
        # the stop was recorded after a bill took days it no longer serves (backdated): that bill is wrong
        late = ", ".join(str(b) for b in stored.bills_past(conn, agreement_id, end))
        return FinalOutcome(agreement_id, account_no, WAITING, end, end,
                            reason=f"bill {late} took days to {billed_to} after the last day served "
                                   f"({end - timedelta(days=1)}): cancel it (m2c bills cancel) or rebill it (m2c bills "
                                   f"rebill); the final bill then takes the days served")
    if first >= end:
        with conn.transaction():
            stored.mark_final_billed(conn, agreement_id)
            deposit = apply_to_final_bill(conn, agreement_id, clock(), None)
        return FinalOutcome(agreement_id, account_no, COVERED, first, end, deposit_applied_minor=deposit,
                            reason="earlier bills took every day served")
    if period_id is None:
        return FinalOutcome(agreement_id, account_no, WAITING, first, end,
                            reason="no billing period of the account's cycle holds the last day served")
    usages = usage_for(conn, [(account_id, period_id)], final_agreement=agreement_id)
    if not usages:
        return FinalOutcome(agreement_id, account_no, WAITING, first, end, reason="no meter installed for it")
    usage = usages[0]
    if first < usage.period.start:
        return FinalOutcome(agreement_id, account_no, WAITING, first, end,
                            reason=f"the regular bill of the days before {usage.period.start} is not issued")
    terms = account_terms(conn, [account_id], period_id)
    terms = {account_id: replace(terms[account_id], rebill_of=None, budget_started_on=None)}
    entity = entity_for(entities, terms[account_id].billing_entity)
    bill = _priced(conn, account_id, replace(usage, service_from=max(usage.service_from, first)), tariffs, entity)
    if bill.hold_reason and bill.hold_reason.startswith("missing_reads") and \
            clock().date() >= end + timedelta(days=wait_days):
        # the cycle's wait for late reads is over: VEE estimates what never came, as at cycle close
        fill_missing_reads(conn, stored.agreement_meter_ids(conn, agreement_id), first, end)
        usage = usage_for(conn, [(account_id, period_id)], final_agreement=agreement_id)[0]
        bill = _priced(conn, account_id, replace(usage, service_from=max(usage.service_from, first)), tariffs, entity)
    if bill.hold_reason:
        return FinalOutcome(agreement_id, account_no, WAITING, first, end, reason=bill.hold_reason)
    with conn.transaction():
        run_id = stored.start_final_run(conn, period_id, requested_by)
        written = write_bills(conn, run_id, period_id, [bill], terms, entities, clock(),
                              final=(agreement_id, first, end))
        stored.mark_final_billed(conn, agreement_id)
        bill_id, charges = written.get(account_id, (None, 0))
        deposit = apply_to_final_bill(conn, agreement_id, clock(), bill_id) if bill_id else 0
        stored.finish_final_run(conn, run_id, 1 if bill_id else 0, charges)
    return FinalOutcome(agreement_id, account_no, BILLED, first, end, bill_id, charges, deposit_applied_minor=deposit)
