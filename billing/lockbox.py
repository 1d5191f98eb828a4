"""Bank lockbox files: the payments a bank received for the utility, as CSV (see docs/payments.md).

Parsing is pure and reports every bad line with its number; the good lines still import. A file
whose control total (an optional ``TOTAL`` line) disagrees with its lines imports nothing.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Callable

import psycopg

from billing.errors import BillingError
from billing.payments import PaymentIn, receive_payment
from billing.postings import to_minor_exact

COLUMNS = ("reference", "received_on", "account_no", "invoice_no", "amount", "method")
METHODS = ("check", "ach", "card", "cash", "wire")


@dataclass
class LockboxFile:
    payments: list[PaymentIn] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)
    control_total: Decimal | None = None


def parse_lockbox(text: str, source: str, currency: str = "USD") -> LockboxFile:
    parsed = LockboxFile()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header[:len(COLUMNS)]] != list(COLUMNS):
        parsed.errors.append((1, f"the first line must be the header {','.join(COLUMNS)}"))
        return parsed
    seen: dict[str, int] = {}
    for line in reader:
        number = reader.line_num
        if not line or all(not cell.strip() for cell in line):
            continue
        if line[0].strip().upper() == "TOTAL":
            try:
                parsed.control_total = Decimal(line[-1].strip())
            except (InvalidOperation, IndexError):
                parsed.errors.append((number, "TOTAL line without a decimal amount in its last column"))
            continue
        if len(line) != len(COLUMNS):
            parsed.errors.append((number, f"expected {len(COLUMNS)} columns, got {len(line)}"))
            continue
        reference, received, account_no, invoice_no, amount, method = (cell.strip() for cell in line)
        problems = []
        if not reference:
            problems.append("reference is empty")
        elif reference in seen:
            problems.append(f"reference {reference!r} repeats line {seen[reference]}")
        try:
            received_on = date.fromisoformat(received)
        except ValueError:
            problems.append(f"received_on {received!r} is not a date (YYYY-MM-DD)")
        try:
            value = Decimal(amount)
            if not value.is_finite() or value <= 0 or value != round(value, 2):
                raise InvalidOperation
        except InvalidOperation:
            problems.append(f"amount {amount!r} is not a positive amount with at most 2 decimals")
        method = method.lower() or "check"
        if method not in METHODS:
            problems.append(f"method {method!r} is not one of {', '.join(METHODS)}")
        if problems:
            parsed.errors.append((number, "; ".join(problems)))
            continue
        seen[reference] = number
        parsed.payments.append(PaymentIn("lockbox", reference, value, received_on, account_no or None,
                                         invoice_no or None, method, currency, source, number))
    if parsed.control_total is not None and not parsed.errors:
        total = sum((p.amount for p in parsed.payments), Decimal(0))
        if total != parsed.control_total:
            parsed.errors.append((0, f"control total {parsed.control_total} differs from the lines' sum {total}: "
                                     "nothing imported"))
            parsed.payments = []
    return parsed


@dataclass
class ImportSummary:
    lines: int = 0
    applied: int = 0
    unmatched: int = 0
    duplicates: int = 0
    applied_minor: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_lockbox(conn: psycopg.Connection, text: str, source: str, posted_at: datetime,
                   progress: Callable[[int, int], None] | None = None, currency: str = "USD",
                   entities: dict | None = None) -> ImportSummary:
    parsed = parse_lockbox(text, source, currency)
    summary = ImportSummary(lines=len(parsed.payments), errors=list(parsed.errors))
    for number, payment in enumerate(parsed.payments, start=1):
        try:
            outcome = receive_payment(conn, payment, posted_at, entities)
        except BillingError as error:
            summary.errors.append((payment.source_line or 0, str(error)))
            continue
        if outcome.status == "applied":
            summary.applied += 1
            summary.applied_minor += to_minor_exact(payment.amount, payment.currency)
        elif outcome.status == "unmatched":
            summary.unmatched += 1
        else:
            summary.duplicates += 1
        if progress:
            progress(number, len(parsed.payments))
    return summary
