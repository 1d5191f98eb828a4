"""Bill runs: finalize a billing period's bills from stored usage (never from the Redis estimates),
one consolidated invoice per account, charges posted to the AR ledger in the same transaction.

A bill run is a recorded job (``bill_runs``, and ``bill_run_accounts``: every account it looked at,
billed, held with the reason, failed with the error, or already billed). Safe to re-run after a
crash or a kill: an account has at most one issued bill per period, so a second run bills only the
accounts the first did not finish; two runs of one period at once are refused by an advisory lock.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import psycopg

from billing.errors import BillRunBusy, UnknownPeriod
from billing.metrics import BillRunMetrics
from billing.bill_writer import account_terms, write_bills
from billing.invoice import build_account_bill
from billing.policy import Entity, entity_for, load_entities
from billing.pricing_inputs import histories as histories_for, interval_inputs
from billing.true_up import add_true_ups
from storage.copy_text import copy_rows
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, usage_for

log = logging.getLogger(__name__)
_BILL_RUN_LOCK = 7_431_002
CHUNK_ACCOUNTS = 1000


@dataclass
class BillRunResult:
    bill_run_id: int
    billing_period_id: int
    accounts_billed: int = 0
    accounts_already_billed: int = 0
    accounts_held: dict[str, str] = field(default_factory=dict)  # account_no -> reason
    accounts_failed: dict[str, str] = field(default_factory=dict)  # account_no -> error
    total_minor: int = 0
    bill_ids: list[int] = field(default_factory=list)


def find_period(conn: psycopg.Connection, cycle_code: str, period_start=None) -> int:
    """The given period of a cycle, or its oldest period that is not closed."""
    if period_start is not None:
        row = conn.execute("select p.id from billing_periods p join billing_cycles c on c.id = p.billing_cycle_id "
                           "where c.code = %s and p.period_start = %s", (cycle_code, period_start)).fetchone()
    else:
        row = conn.execute("select p.id from billing_periods p join billing_cycles c on c.id = p.billing_cycle_id "
                           "where c.code = %s and p.closed_at is null order by p.period_start limit 1",
                           (cycle_code,)).fetchone()
    if row is None:
        raise UnknownPeriod(f"cycle {cycle_code!r} has no {'such' if period_start else 'open'} billing period")
    return row[0]


def run_bill_run(conn: psycopg.Connection, billing_period_id: int, tariffs: dict[str, PublishedTariff],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 metrics: BillRunMetrics | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 entities: dict[str, Entity] | None = None,
                 account_ids: list[int] | None = None,
                 requested_by: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS) -> BillRunResult:
    """Bill every account of the period's cycle (or just ``account_ids``) that has no issued bill for
    the period. ``progress(done, total)`` is called after each chunk of accounts."""
    conn.autocommit = True
    locked = conn.execute("select pg_try_advisory_lock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id)).fetchone()[0]
    if not locked:
        raise BillRunBusy(f"another bill run holds billing period {billing_period_id}")
    try:
        return _run(conn, billing_period_id, tariffs, clock, metrics or BillRunMetrics(), progress,
                    entities or load_entities(), account_ids, requested_by, chunk_accounts)
    finally:
        conn.execute("select pg_advisory_unlock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id))


def _run(conn, billing_period_id, tariffs, clock, metrics: BillRunMetrics, progress, entities, only_accounts,
         requested_by, chunk_accounts) -> BillRunResult:
    period = conn.execute("select billing_cycle_id from billing_periods where id = %s",
                          (billing_period_id,)).fetchone()
    if period is None:
        raise UnknownPeriod(f"no billing period {billing_period_id}")
    # we hold the period's lock: a run still marked running was killed
    conn.execute("update bill_runs set status = 'interrupted', finished_at = now() "
                 "where billing_period_id = %s and status = 'running'", (billing_period_id,))
    run_id = conn.execute("insert into bill_runs (billing_period_id, status, requested_by) "
                          "values (%s, 'running', coalesce(%s, current_user)) returning id",
                          (billing_period_id, requested_by)).fetchone()[0]
    result = BillRunResult(run_id, billing_period_id)
    try:
        accounts = conn.execute(
            "select a.id, a.account_no, exists (select 1 from bills b where b.account_id = a.id "
            "and b.billing_period_id = %s and b.status = 'issued') from accounts a "
            "where a.billing_cycle_id = %s and (%s::int8[] is null or a.id = any(%s)) order by a.id",
            (billing_period_id, period[0], only_accounts, only_accounts)).fetchall()
        account_no = {row[0]: row[1] for row in accounts}
        pending = [row[0] for row in accounts if not row[2]]
        already = [row[0] for row in accounts if row[2]]
        result.accounts_already_billed = len(already)
        _record(conn, run_id, [(a, "already_billed", None, None) for a in already])
        metrics.accounts.labels("already_billed").inc(result.accounts_already_billed)
        started = time.monotonic()

        def tally(chunk_started: float, done: int, outcomes: list[tuple]) -> None:
            for account_id, status, reason, bill_id, _ in outcomes:
                if status == "billed":
                    result.bill_ids.append(bill_id)
                elif status == "already_billed":
                    result.accounts_already_billed += 1
                elif status == "failed":
                    result.accounts_failed[account_no[account_id]] = reason
                elif status == "held":
                    result.accounts_held[account_no[account_id]] = reason
            billed = sum(1 for o in outcomes if o[1] == "billed")
            total = sum(o[4] for o in outcomes if o[1] == "billed")
            result.accounts_billed += billed
            result.total_minor += total
            metrics.accounts.labels("billed").inc(billed)
            metrics.accounts.labels("held").inc(sum(1 for o in outcomes if o[1] == "held"))
            metrics.accounts.labels("failed").inc(sum(1 for o in outcomes if o[1] == "failed"))
            metrics.billed_minor.inc(max(total, 0))
            metrics.chunk_seconds.observe(time.monotonic() - chunk_started)
            metrics.progress.set(done / len(pending))
            if progress:
                progress(done, len(pending))

        # three stages on three connections: reading the next chunk's usage, rating this one (Python)
        # and writing the one before overlap
        chunks = [pending[start:start + chunk_accounts] for start in range(0, len(pending), chunk_accounts)]
        with _second_connection(conn) as reader, _second_connection(conn) as writer, \
                ThreadPoolExecutor(1, thread_name_prefix="bill-reader") as reading, \
                ThreadPoolExecutor(1, thread_name_prefix="bill-writer") as writing:
            next_inputs = reading.submit(_read_chunk, reader, billing_period_id, chunks[0], tariffs) if chunks else None
            in_flight = None
            done = 0
            for number, chunk in enumerate(chunks):
                chunk_started = time.monotonic()
                inputs = next_inputs.result()
                if number + 1 < len(chunks):
                    next_inputs = reading.submit(_read_chunk, reader, billing_period_id, chunks[number + 1], tariffs)
                rated = _rate_chunk(conn, billing_period_id, chunk, inputs, tariffs, entities)
                if in_flight is not None:
                    tally(*in_flight[0], in_flight[1].result())
                done += len(chunk)
                future = writing.submit(_write_chunk, writer, run_id, billing_period_id, chunk, rated, entities, clock)
                in_flight = ((chunk_started, done), future)
            if in_flight is not None:
                tally(*in_flight[0], in_flight[1].result())
        with conn.transaction():
            if not result.accounts_held and not result.accounts_failed and only_accounts is None:
                conn.execute("update billing_periods set closed_at = coalesce(closed_at, now()) where id = %s",
                             (billing_period_id,))
            elapsed = time.monotonic() - started
            metrics.bills_per_second.set(result.accounts_billed / elapsed if elapsed > 0 else 0)
            metrics.last_success.set(time.time())
            conn.execute("update bill_runs set status = 'finished', finished_at = now(), accounts_billed = %s, "
                         "accounts_skipped = %s, accounts_failed = %s, total_minor = %s where id = %s",
                         (result.accounts_billed, len(result.accounts_held), len(result.accounts_failed),
                          result.total_minor, run_id))
    except Exception as error:
        metrics.failures.inc()
        conn.execute("update bill_runs set status = 'failed', finished_at = now(), error = %s where id = %s",
                     (str(error)[:2000], run_id))
        raise
    return result


@dataclass
class RatedChunk:
    outcomes: dict[int, tuple]  # account_id -> (account_id, status, reason, bill_id, amount) decided already
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


def _read_chunk(conn, billing_period_id: int, chunk: list[int], tariffs) -> ChunkInputs:
    """Everything pricing the chunk needs from the database."""
    usages = usage_for(conn, [(account_id, billing_period_id) for account_id in chunk])
    by_account: dict[int, list[AgreementUsage]] = defaultdict(list)
    for usage in usages:
        by_account[usage.account_id].append(usage)
    summaries, intervals = interval_inputs(conn, usages, tariffs)
    return ChunkInputs(by_account, summaries, intervals, histories_for(conn, usages, tariffs),
                       blocking_exceptions(conn, chunk, billing_period_id),
                       account_terms(conn, chunk, billing_period_id))


def _rate_chunk(conn, billing_period_id: int, chunk: list[int], inputs: ChunkInputs, tariffs,
                entities) -> RatedChunk:
    """Price every account of the chunk (nothing written)."""
    by_account, intervals, histories = inputs.by_account, inputs.intervals, inputs.histories
    blocked, terms = inputs.blocked, inputs.terms
    outcomes: dict[int, tuple] = {}
    bills = []
    for account_id in chunk:
        if account_id in blocked:
            outcomes[account_id] = (account_id, "held", f"blocking_exceptions:{blocked[account_id]}", None, 0)
            continue
        entity = entity_for(entities, terms[account_id].billing_entity)
        try:
            bill = build_account_bill(account_id, by_account.get(account_id, []), tariffs, intervals, histories,
                                      allow_estimated=entity.allow_estimated_bills, summaries=inputs.summaries)
        except Exception as error:  # one account's defect must not stop the cycle: it is reported
            log.exception("account %s could not be billed", account_id)
            outcomes[account_id] = (account_id, "failed", f"{type(error).__name__}: {error}"[:500], None, 0)
            continue
        if bill.hold_reason:
            outcomes[account_id] = (account_id, "held", bill.hold_reason, None, 0)
        else:
            bills.append(bill)
    add_true_ups(conn, bills, billing_period_id, tariffs)
    return RatedChunk(outcomes, bills, terms)


def price_accounts(conn, billing_period_id: int, account_ids: list[int], tariffs, entities) -> RatedChunk:
    """Price the accounts for the period as a bill run would, writing nothing (a parallel run)."""
    inputs = _read_chunk(conn, billing_period_id, account_ids, tariffs)
    return _rate_chunk(conn, billing_period_id, account_ids, inputs, tariffs, entities)


def _write_chunk(conn, run_id: int, billing_period_id: int, chunk: list[int], rated: RatedChunk, entities,
                 clock) -> list[tuple]:
    """Write the chunk's bills and every account's outcome; returns the outcomes in chunk order."""
    outcomes = dict(rated.outcomes)
    written = write_bills(conn, run_id, billing_period_id, rated.bills, rated.terms, entities, clock())
    for bill in rated.bills:
        if bill.account_id in written:
            bill_id, amount = written[bill.account_id]
            outcomes[bill.account_id] = (bill.account_id, "billed", None, bill_id, amount)
        else:
            outcomes[bill.account_id] = (bill.account_id, "already_billed", "billed by another run", None, 0)
    ordered = [outcomes[a] for a in chunk]
    _record(conn, run_id, ordered)
    return ordered


@contextmanager
def _second_connection(conn: psycopg.Connection):
    other = psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True)
    try:
        yield other
    finally:
        other.close()


def _record(conn: psycopg.Connection, run_id: int, outcomes) -> None:
    if not outcomes:
        return
    copy_rows(conn, "copy bill_run_accounts (bill_run_id, account_id, status, reason, bill_id) from stdin",
              ((run_id, account_id, status, reason, bill_id) for account_id, status, reason, bill_id, *_ in outcomes))


def blocking_exceptions(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> dict[int, int]:
    """Open VEE exceptions that block billing, per account, whose reads fall in the period (local days)."""
    rows = conn.execute(
        "select sa.account_id, count(*) from vee_exceptions e join meters m on m.id = e.meter_id "
        "join service_agreements sa on sa.id = m.service_agreement_id join accounts a on a.id = sa.account_id "
        "join billing_periods p on p.id = %s "
        "where e.status = 'open' and e.severity = 'blocks_billing' and sa.account_id = any(%s) "
        "  and e.block_start < (p.period_end::timestamp at time zone a.zone) "
        "  and e.block_start + make_interval(secs => e.interval_s * array_length(e.values, 1)) "
        "      > (p.period_start::timestamp at time zone a.zone) "
        "group by sa.account_id", (billing_period_id, account_ids)).fetchall()
    return dict(rows)
