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

from billing.bill_chunk import record_outcomes
from billing.bill_workers import chunk_billing
from billing.errors import BillRunBusy, UnknownPeriod
from billing.metrics import BillRunMetrics
from billing.entities import Entity, load_entities
from storage.copy_text import int_array
from storage.tariffs import PublishedTariff

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
                 requested_by: str | None = None, chunk_accounts: int = CHUNK_ACCOUNTS,
                 workers: int | None = None) -> BillRunResult:
    """Bill every account of the period's cycle (or just ``account_ids``) that has no issued bill for
    the period, in chunks of ``chunk_accounts`` billed by ``workers`` processes (default: one per
    core). ``progress(done, total)`` is called after each chunk of accounts."""
    conn.autocommit = True
    locked = conn.execute("select pg_try_advisory_lock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id)).fetchone()[0]
    if not locked:
        raise BillRunBusy(f"another bill run holds billing period {billing_period_id}")
    try:
        return _run(conn, billing_period_id, tariffs, clock, metrics or BillRunMetrics(), progress,
                    entities or load_entities(), account_ids, requested_by, chunk_accounts,
                    workers or os.cpu_count() or 1)
    finally:
        conn.execute("select pg_advisory_unlock(%s, %s)", (_BILL_RUN_LOCK, billing_period_id))


def _run(conn, billing_period_id, tariffs, clock, metrics: BillRunMetrics, progress, entities, only_accounts,
         requested_by, chunk_accounts, workers) -> BillRunResult:
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
        only = None if only_accounts is None else int_array(only_accounts)
        accounts = conn.execute(
            "select a.id, a.account_no, exists (select 1 from bills b where b.account_id = a.id "
            "and b.billing_period_id = %s and b.status = 'issued') from accounts a "
            "where a.billing_cycle_id = %s and (%s::int8[] is null or a.id = any(%s::int8[])) order by a.id",
            (billing_period_id, period[0], only, only)).fetchall()
        account_no = {row[0]: row[1] for row in accounts}
        pending = [row[0] for row in accounts if not row[2]]
        already = [row[0] for row in accounts if row[2]]
        result.accounts_already_billed = len(already)
        record_outcomes(conn, run_id, [(a, "already_billed", None, None) for a in already])
        metrics.accounts.labels("already_billed").inc(result.accounts_already_billed)
        started = time.monotonic()

        def tally(chunk_started: float, done: int, billed_chunk) -> None:
            outcomes = billed_chunk.result()
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

        # chunks are billed in worker processes, a few in flight per worker; their outcomes are tallied
        # in order
        chunks = [pending[start:start + chunk_accounts] for start in range(0, len(pending), chunk_accounts)]
        billing = chunk_billing(conn, workers, len(chunks), tariffs, entities)
        try:
            in_flight: deque = deque()
            done = 0
            for chunk in chunks:
                while len(in_flight) >= 2 * workers:
                    tally(*in_flight.popleft())
                done += len(chunk)
                in_flight.append((time.monotonic(), done,
                                  billing.submit(run_id, billing_period_id, chunk, clock())))
            while in_flight:
                tally(*in_flight.popleft())
        finally:
            billing.close()
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
