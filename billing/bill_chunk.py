"""One chunk of a bill run: read what pricing its accounts needs, price them (nothing written), then
write the bills, lines, usage, ledger postings and every account's outcome in one transaction.

The same steps serve a bill run in its worker processes and a parallel run (``price_accounts``)."""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import psycopg

from billing.bill_writer import account_terms, write_bills
from billing.invoice import build_account_bill
from billing.entities import entity_for
from billing.pricing_inputs import histories as histories_for, interval_inputs
from billing.true_up import add_true_ups
from storage.bill_runs import blocking_exceptions, record_outcomes
from storage.usage import AgreementUsage, leaving_accounts, usage_for

log = logging.getLogger(__name__)
BILLED, HELD, FAILED, ALREADY_BILLED = "billed", "held", "failed", "already_billed"


class Outcome(NamedTuple):
    """What a bill run did with one account (``bill_run_accounts``)."""

    account_id: int
    status: str  # BILLED, HELD, FAILED or ALREADY_BILLED
    reason: str | None  # why held or failed
    bill_id: int | None
    amount_minor: int  # the bill's current charges, when billed


def bill_chunk(conn: psycopg.Connection, run_id: int, billing_period_id: int, chunk: list[int], tariffs,
               entities, issued_at: datetime) -> list[Outcome]:
    """Bill the chunk's accounts; returns each account's outcome in chunk order."""
    rated = price_accounts(conn, billing_period_id, chunk, tariffs, entities)
    return write_chunk(conn, run_id, billing_period_id, chunk, rated, entities, issued_at)


@dataclass
class RatedChunk:
    outcomes: dict[int, Outcome]  # account_id -> outcome decided already (held, failed)
    bills: list
    terms: dict


@dataclass
class ChunkInputs:
    by_account: dict[int, list[AgreementUsage]]
    summaries: dict
    intervals: dict
    histories: dict
    blocked: dict[int, int]
    terms: dict
    leaving: set[int]  # accounts with an agreement that its final bill takes


def read_chunk(conn, billing_period_id: int, chunk: list[int], tariffs) -> ChunkInputs:
    """Everything pricing the chunk needs from the database."""
    usages = usage_for(conn, [(account_id, billing_period_id) for account_id in chunk])
    by_account: dict[int, list[AgreementUsage]] = defaultdict(list)
    for usage in usages:
        by_account[usage.account_id].append(usage)
    summaries, intervals = interval_inputs(conn, usages, tariffs)
    return ChunkInputs(by_account, summaries, intervals, histories_for(conn, usages, tariffs),
                       blocking_exceptions(conn, chunk, billing_period_id),
                       account_terms(conn, chunk, billing_period_id),
                       leaving_accounts(conn, [a for a in chunk if a not in by_account], billing_period_id))


def rate_chunk(conn, billing_period_id: int, chunk: list[int], inputs: ChunkInputs, tariffs,
               entities) -> RatedChunk:
    """Price every account of the chunk (nothing written)."""
    by_account, intervals, histories = inputs.by_account, inputs.intervals, inputs.histories
    blocked, terms = inputs.blocked, inputs.terms
    outcomes: dict[int, Outcome] = {}
    bills = []
    for account_id in chunk:
        if account_id in blocked:
            outcomes[account_id] = Outcome(account_id, HELD, f"blocking_exceptions:{blocked[account_id]}", None, 0)
            continue
        if account_id in inputs.leaving and account_id not in by_account:
            outcomes[account_id] = Outcome(account_id, ALREADY_BILLED, "service ended: its final bill bills it",
                                           None, 0)
            continue
        entity = entity_for(entities, terms[account_id].billing_entity)
        try:
            bill = build_account_bill(account_id, by_account.get(account_id, []), tariffs, intervals, histories,
                                      allow_estimated=entity.allow_estimated_bills, summaries=inputs.summaries)
        except Exception as error:  # one account's defect must not stop the cycle: it is reported
            log.exception("account %s could not be billed", account_id)
            outcomes[account_id] = Outcome(account_id, FAILED, f"{type(error).__name__}: {error}"[:500], None, 0)
            continue
        if bill.hold_reason:
            outcomes[account_id] = Outcome(account_id, HELD, bill.hold_reason, None, 0)
        else:
            bills.append(bill)
    add_true_ups(conn, bills, billing_period_id, tariffs)
    return RatedChunk(outcomes, bills, terms)


def price_accounts(conn, billing_period_id: int, account_ids: list[int], tariffs, entities) -> RatedChunk:
    """Price the accounts for the period as a bill run would, writing nothing (a parallel run)."""
    inputs = read_chunk(conn, billing_period_id, account_ids, tariffs)
    return rate_chunk(conn, billing_period_id, account_ids, inputs, tariffs, entities)


def write_chunk(conn, run_id: int, billing_period_id: int, chunk: list[int], rated: RatedChunk, entities,
                issued_at: datetime) -> list[Outcome]:
    """Write the chunk's bills and every account's outcome; returns the outcomes in chunk order."""
    outcomes = dict(rated.outcomes)
    written = write_bills(conn, run_id, billing_period_id, rated.bills, rated.terms, entities, issued_at)
    for bill in rated.bills:
        if bill.account_id in written:
            bill_id, amount = written[bill.account_id]
            outcomes[bill.account_id] = Outcome(bill.account_id, BILLED, None, bill_id, amount)
        else:
            outcomes[bill.account_id] = Outcome(bill.account_id, ALREADY_BILLED, "billed by another run", None, 0)
    ordered = [outcomes[a] for a in chunk]
    record_outcomes(conn, run_id, ordered)
    return ordered
