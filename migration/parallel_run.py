"""``m2c migrate parallel-run DIR --periods N``: re-bill the migrated accounts for their last N legacy
periods from the migrated reads and tariffs (nothing is written) and compare every bill, line by line,
with the legacy bill. A bill matches when every line is within the tolerance; a mismatch gets its
probable cause:

- ``missing_reads``: the period's reads are incomplete here (missing, or held back by VEE);
- ``proration``: the legacy bill covers other days than the cycle's period here;
- ``rate_mapping``: the charges differ (a charge on one bill only, or fixed charges that differ):
  the legacy rate code is mapped to a tariff that is not the one the legacy system billed;
- ``rounding``: every line within one minor unit;
- ``usage``: usage-priced lines differ beyond rounding (the reads differ from the legacy system's).
"""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import psycopg

from billing.bill_chunk import price_accounts
from billing.cycles import period_containing
from storage import migration_runs as runs
from storage.bulk_load import ensure_period

FIXED_UNITS = ("period", "day", "month")
CAUSES = ("missing_reads", "proration", "rate_mapping", "rounding", "usage", "held")


@dataclass
class LineComparison:
    service: str
    charge_code: str
    legacy_minor: int
    new_minor: int
    fixed: bool

    @property
    def difference(self) -> int:
        return self.new_minor - self.legacy_minor


@dataclass
class BillComparison:
    account_no: str
    bill_no: str
    legacy_start: date
    legacy_end: date
    period_start: date
    period_end: date
    legacy_minor: int
    new_minor: int
    matched: bool = False
    cause: str = ""
    detail: str = ""
    lines: list[LineComparison] = field(default_factory=list)

    @property
    def difference(self) -> int:
        return self.new_minor - self.legacy_minor


@dataclass
class ParallelRun:
    periods: int
    tolerance_minor: int
    bills: list[BillComparison] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def matched(self) -> int:
        return sum(b.matched for b in self.bills)

    def causes(self) -> dict[str, int]:
        return dict(Counter(b.cause for b in self.bills if not b.matched))

    def accounts(self) -> int:
        return len({b.account_no for b in self.bills})


def legacy_bills(conn: psycopg.Connection, periods: int) -> list[tuple]:
    return runs.latest_legacy_bills(conn, periods)


def classify(bill: BillComparison, hold_reason: str | None, tolerance_minor: int) -> None:
    if hold_reason:
        bill.cause = "missing_reads" if hold_reason.startswith(("missing_reads", "blocking_exceptions")) else "held"
        bill.detail = hold_reason
        return
    differing = [line for line in bill.lines if abs(line.difference) > tolerance_minor]
    if not differing:
        bill.matched = True
        return
    if (bill.legacy_start, bill.legacy_end) != (bill.period_start, bill.period_end):
        bill.cause = "proration"
        bill.detail = (f"legacy {bill.legacy_start}..{bill.legacy_end}, "
                       f"cycle period {bill.period_start}..{bill.period_end}")
    elif one_sided := [line for line in differing if not (line.legacy_minor and line.new_minor)]:
        bill.cause = "rate_mapping"
        bill.detail = "charges on one bill only: " + ", ".join(f"{line.service}/{line.charge_code}"
                                                               for line in one_sided)
    elif all(abs(line.difference) <= 1 for line in differing):
        bill.cause = "rounding"
        bill.detail = f"{len(differing)} lines one minor unit apart"
    elif all(line.fixed for line in differing):
        bill.cause = "rate_mapping"
        bill.detail = "fixed charges differ: " + ", ".join(f"{line.service}/{line.charge_code}" for line in differing)
    else:
        bill.cause = "usage"
        bill.detail = "usage-priced lines differ: " + ", ".join(
            f"{line.service}/{line.charge_code}" for line in differing if not line.fixed)


def parallel_run(conn: psycopg.Connection, periods: int, tariffs, entities, tolerance_minor: int = 0,
                 chunk: int = 500, progress=None) -> ParallelRun:
    started = time.perf_counter()
    run = ParallelRun(periods, tolerance_minor)
    rows = legacy_bills(conn, periods)
    lines: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for bill_no, service, code, amount in runs.legacy_lines(conn, [r[0] for r in rows]):
        lines[bill_no][(service, code)] += amount
    by_period: dict[int, list[tuple]] = defaultdict(list)
    bounds: dict[int, tuple[date, date]] = {}
    for row in rows:
        _, _, _, cycle_id, start_day, legacy_start, _, _ = row
        first, end = period_containing(start_day, legacy_start)
        period_id = ensure_period(conn, cycle_id, first, end)
        bounds[period_id] = (first, end)
        by_period[period_id].append(row)
    done = 0
    for period_id, period_rows in by_period.items():
        for lo in range(0, len(period_rows), chunk):
            part = period_rows[lo:lo + chunk]
            rated = price_accounts(conn, period_id, [r[1] for r in part], tariffs, entities)
            priced = {bill.account_id: bill for bill in rated.bills}
            for bill_no, account_id, account_no, _, _, legacy_start, legacy_end, legacy_total in part:
                ours: dict[tuple[str, str], list] = defaultdict(lambda: [0, True])
                bill = priced.get(account_id)
                for service in bill.services if bill else []:
                    for line in service.lines:
                        entry = ours[(service.service, line.code)]
                        entry[0] += line.amount_minor
                        entry[1] = entry[1] and line.unit in FIXED_UNITS
                legacy = lines[bill_no]
                comparison = BillComparison(account_no, bill_no, legacy_start, legacy_end, *bounds[period_id],
                                            legacy_total, bill.total_minor if bill else 0)
                for key in sorted(set(legacy) | set(ours)):
                    new, fixed = ours[key] if key in ours else (0, True)
                    comparison.lines.append(LineComparison(key[0], key[1], legacy.get(key, 0), new, fixed))
                outcome = rated.outcomes.get(account_id)
                classify(comparison, outcome.reason if outcome else None, tolerance_minor)
                run.bills.append(comparison)
            done += len(part)
            if progress:
                progress(done, len(rows))
    run.seconds = time.perf_counter() - started
    return run
