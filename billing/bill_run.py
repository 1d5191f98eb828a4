"""Bill runs: finalize a billing period's bills from stored usage (never from the Redis estimates),
one consolidated invoice per account, charges posted to the AR ledger in the same transaction.

A bill run is a recorded job (``bill_runs``, and ``bill_run_accounts``: every account it looked at,
billed, held with the reason, failed with the error, or already billed). Safe to re-run after a
crash or a kill: an account has at most one issued bill per period, so a second run bills only the
accounts the first did not finish; two runs of one period at once are refused by an advisory lock.
"""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import psycopg

from billing.bill_chunk import ALREADY_BILLED, BILLED, FAILED, HELD, Outcome
from billing.bill_workers import chunk_billing
from billing.errors import BillRunBusy, UnknownPeriod
from billing.metrics import BillRunMetrics
from billing.entities import Entity, load_entities
from storage import bill_runs
from storage.attribution import raise_unbilled_of_period
from storage.final_bills import activate_started
from storage.tariffs import PublishedTariff

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
    unbilled_days: int = 0  # meter days of use at service points no agreement served, raised


def find_period(conn: psycopg.Connection, cycle_code: str, period_start=None) -> int:
    """The given period of a cycle, or its oldest period that is not closed."""
    period_id = bill_runs.period_of_cycle(conn, cycle_code, period_start)
    if period_id is None:
        raise UnknownPeriod(f"cycle {cycle_code!r} has no {'such' if period_start else 'open'} billing period")
    return period_id


def run_bill_run(conn: psycopg.Connection, billing_period_id: int, tariffs: dict[str, PublishedTariff],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 metrics: BillRunMetrics | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 entities: dict[str, Entity] | None = None,
                 account_ids: list[int] | None = None,
                 requested_by: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS,
                 workers: int | None = None) -> BillRunResult:
    """Bill every account of the period's cycle (or just ``account_ids``) that has no issued bill for
    the period, in chunks of ``chunk_accounts`` billed by ``workers`` processes (default: one per
    core). ``progress(done, total)`` is called after each chunk of accounts."""
    conn.autocommit = True
    if not bill_runs.try_lock_period(conn, billing_period_id):
        raise BillRunBusy(f"another bill run holds billing period {billing_period_id}")
    try:
        return _run(conn, billing_period_id, tariffs, clock, metrics or BillRunMetrics(), progress,
                    entities or load_entities(), account_ids, requested_by, chunk_accounts,
                    workers or os.cpu_count() or 1)
    finally:
        bill_runs.unlock_period(conn, billing_period_id)


def _run(conn, billing_period_id, tariffs, clock, metrics: BillRunMetrics, progress, entities, only_accounts,
         requested_by, chunk_accounts, workers) -> BillRunResult:
    cycle_id = bill_runs.cycle_of_period(conn, billing_period_id)
    if cycle_id is None:
        raise UnknownPeriod(f"no billing period {billing_period_id}")
    run_id = bill_runs.start_run(conn, billing_period_id, requested_by)  # we hold the period's lock
    activate_started(conn, clock().date())
    result = BillRunResult(run_id, billing_period_id)
    try:
        accounts = bill_runs.accounts_to_bill(conn, billing_period_id, cycle_id, only_accounts)
        pending = [row[0] for row in accounts if not row[2]]
        already = [Outcome(row[0], ALREADY_BILLED, None, None, 0) for row in accounts if row[2]]
        bill_runs.record_outcomes(conn, run_id, already)
        tally = Tally(result, {row[0]: row[1] for row in accounts}, metrics, progress, len(pending))
        tally.count(already)
        started = time.monotonic()
        _bill_in_chunks(conn, run_id, billing_period_id, pending, chunk_accounts, workers, tariffs, entities,
                        clock, tally)
        elapsed = time.monotonic() - started
        metrics.bills_per_second.set(result.accounts_billed / elapsed if elapsed > 0 else 0)
        metrics.last_success.set(time.time())
        # what the period's days stored at service points no agreement served: raised, never billed
        result.unbilled_days = raise_unbilled_of_period(conn, billing_period_id)
        bill_runs.finish_run(conn, run_id, billing_period_id, result.accounts_billed, len(result.accounts_held),
                             len(result.accounts_failed), result.total_minor,
                             close_period=not result.accounts_held and not result.accounts_failed
                             and only_accounts is None)
    except Exception as error:
        metrics.failures.inc()
        bill_runs.fail_run(conn, run_id, str(error))
        raise
    return result


def _bill_in_chunks(conn, run_id: int, billing_period_id: int, pending: list[int], chunk_accounts: int,
                    workers: int, tariffs, entities, clock, tally: "Tally") -> None:
    """Bill the pending accounts in chunks in worker processes, a few chunks in flight per worker; their
    outcomes are tallied in order."""
    chunks = [pending[start:start + chunk_accounts] for start in range(0, len(pending), chunk_accounts)]
    billing = chunk_billing(conn, workers, len(chunks), tariffs, entities)
    try:
        in_flight: deque = deque()
        done = 0
        for chunk in chunks:
            while len(in_flight) >= 2 * workers:
                tally.chunk(*in_flight.popleft())
            done += len(chunk)
            in_flight.append((time.monotonic(), done, billing.submit(run_id, billing_period_id, chunk, clock())))
        while in_flight:
            tally.chunk(*in_flight.popleft())
    finally:
        billing.close()


class Tally:
    """A run's outcomes as they come in: into the result, the metrics and the progress callback."""

    def __init__(self, result: BillRunResult, account_no: dict[int, str], metrics: BillRunMetrics,
                 progress: Callable[[int, int], None] | None, pending: int):
        self.result, self.account_no, self.metrics, self.progress = result, account_no, metrics, progress
        self.pending = pending

    def chunk(self, chunk_started: float, done: int, billed_chunk) -> None:
        """A chunk's outcomes (``billed_chunk``: its future), after ``done`` of the pending accounts."""
        self.count(billed_chunk.result())
        self.metrics.chunk_seconds.observe(time.monotonic() - chunk_started)
        self.metrics.progress.set(done / self.pending if self.pending else 1.0)
        if self.progress:
            self.progress(done, self.pending)

    def count(self, outcomes: list[Outcome]) -> None:
        result = self.result
        counts = {BILLED: 0, HELD: 0, FAILED: 0, ALREADY_BILLED: 0}
        total = 0
        for outcome in outcomes:
            counts[outcome.status] += 1
            if outcome.status == BILLED:
                result.bill_ids.append(outcome.bill_id)
                total += outcome.amount_minor
            elif outcome.status == FAILED:
                result.accounts_failed[self.account_no[outcome.account_id]] = outcome.reason
            elif outcome.status == HELD:
                result.accounts_held[self.account_no[outcome.account_id]] = outcome.reason
        result.accounts_billed += counts[BILLED]
        result.accounts_already_billed += counts[ALREADY_BILLED]
        result.total_minor += total
        for status, count in counts.items():
            if count:
                self.metrics.accounts.labels(status).inc(count)
        self.metrics.billed_minor.inc(max(total, 0))
