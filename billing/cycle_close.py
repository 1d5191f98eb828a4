"""Closing billing cycles on schedule: for every period due, estimate its missing reads (VEE), run
its bill run; issue the final bills that are ready; then raise customers' alerts, deliver what is
waiting, pay the bills due that day of the accounts on autopay (with a payment gateway) and run
collections for the day. The streams worker runs this every few minutes in a thread (``m2c worker``);
``m2c cycles close-due`` runs it once.

One process at a time does it (an advisory lock); each step is itself safe to repeat.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import psycopg

from config.settings import Settings
from billing.entities import configured_entities
from storage import billing_cycles
from billing.delivery import configured_delivery

log = logging.getLogger(__name__)
CORRECTION_LOOKBACK_DAYS = 120  # late reads are looked for in the bills of periods ended this recently


@dataclass
class CycleCloseReport:
    ran: bool = True  # False: another process holds the scheduler lock
    periods_added: int = 0
    bill_runs: list = field(default_factory=list)  # BillRunResult per due period
    estimated_reads: int = 0
    corrections: int = 0  # bills whose usage changed after billing, raised for cancel/rebill
    final_bills: list = field(default_factory=list)  # final_bills.FinalOutcome of each stopped agreement
    alerts: object | None = None  # customers' high-usage and leak alerts raised
    delivery: object | None = None
    autopay: object | None = None  # billing.autopay.AutopaySummary; None without a payment gateway
    collections: object | None = None


def close_period(conn: psycopg.Connection, billing_period_id: int, tariffs: dict, entities: dict,
                 requested_by: str, clock: Callable[[], datetime] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 tally: Callable[[str, str, int], None] | None = None):
    """Close one billing period: estimate its missing reads (VEE), then bill it. Returns (reads
    estimated, the bill run's result). Safe to repeat: a re-run estimates nothing new and bills no
    account twice."""
    from billing.bill_run import run_bill_run
    from vee.gap_fill import fill_period

    estimated = sum(fill_period(conn, billing_period_id, tally=tally).values())
    result = run_bill_run(conn, billing_period_id, tariffs, clock=clock or (lambda: datetime.now(timezone.utc)),
                          entities=entities, progress=progress,
                          requested_by=requested_by)
    return estimated, result


def close_due_cycles(settings: Settings, now: datetime | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     tally: Callable[[str, str, int], None] | None = None,
                     gateway: object | None = None) -> CycleCloseReport:
    """``gateway``: the payment gateway autopay charges (``billing.autopay.Gateway``); None: no autopay."""
    from billing.alerts import run_alerts
    from billing.autopay import run_autopay
    from billing.corrections import raise_corrections
    from billing.dunning import run_collections
    from billing.final_bills import issue_final_bills
    from billing.cycles import due_periods, ensure_periods
    from billing.delivery import deliver_pending
    from storage.tariffs import current_tariffs

    now = now or datetime.now(timezone.utc)
    today = now.astimezone(ZoneInfo(settings.utility_zone)).date()
    report = CycleCloseReport()
    entities = configured_entities(settings)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if not billing_cycles.try_lock_scheduler(conn):
            report.ran = False
            return report
        try:
            report.periods_added = ensure_periods(conn, today)
            due = due_periods(conn, today)
            tariffs = current_tariffs(conn) if due else {}
            for period in due:
                estimated, result = close_period(conn, period.billing_period_id, tariffs, entities, "scheduler",
                                                 clock=lambda: now, progress=progress, tally=tally)
                report.estimated_reads += estimated
                report.bill_runs.append(result)
            report.final_bills = issue_final_bills(conn, tariffs or current_tariffs(conn), entities,
                                                   clock=lambda: now, requested_by="scheduler")
            report.corrections = raise_corrections(conn, today - timedelta(days=CORRECTION_LOOKBACK_DAYS))
            report.alerts = run_alerts(conn, lambda: tariffs or current_tariffs(conn), now)
            report.delivery = deliver_pending(conn, entities, configured_delivery(settings), now)
            if gateway is not None:  # before collections: a bill paid on its due day is never past due
                report.autopay = run_autopay(conn, gateway, entities, today, now)
            report.collections = run_collections(conn, entities, today, now)
        finally:
            billing_cycles.unlock_scheduler(conn)
    return report


class CycleScheduler(threading.Thread):
    """Runs :func:`close_due_cycles` every ``interval_s`` until stopped; a failure is logged and retried
    at the next tick (every step is safe to repeat)."""

    def __init__(self, settings: Settings, interval_s: float = 300.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 tally: Callable[[str, str, int], None] | None = None, gateway: object | None = None):
        super().__init__(name="cycle-scheduler", daemon=True)
        self.settings, self.interval_s, self.clock, self.tally = settings, interval_s, clock, tally
        self.gateway = gateway
        self.stopping = threading.Event()
        self.last_report: CycleCloseReport | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.last_report = close_due_cycles(self.settings, self.clock(), tally=self.tally,
                                                    gateway=self.gateway)
                for result in self.last_report.bill_runs:
                    log.warning("scheduled bill run %s: %s bills, %s held", result.bill_run_id,
                                result.accounts_billed, len(result.accounts_held))
            except Exception:
                log.exception("closing due billing cycles failed; retrying at the next tick")
            self.stopping.wait(self.interval_s)

    def stop(self) -> None:
        self.stopping.set()
