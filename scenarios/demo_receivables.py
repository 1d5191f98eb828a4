"""The demo after the bill run: bills delivered (print batch, e-mail through a local SMTP server,
portal), a bank lockbox file of customer payments imported (twice: the second applies nothing),
collections on the day after the grace period, and the trial balance."""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from billing.dunning import run_collections
from billing.delivery import deliver_pending
from billing.lockbox import import_lockbox
from storage.ledger_entries import trial_balance, unbalanced_transactions
from storage.scenario_checks import issued_bills, latest_due_date
from scenarios.mailsink import MailSink
from config.settings import Settings
from rating.money import format_minor
from billing.entities import configured_entities
from billing.delivery import configured_delivery


@dataclass
class ReceivablesReport:
    lines: list[str]
    consistent: bool


def lockbox_for(bills: list[tuple[str, int, int]], seed: int) -> tuple[str, dict[str, str]]:
    """A lockbox file paying the bills (account_no, bill_id, total due): most in full, some in part, some
    over, some not at all, and two payments nobody can match. Returns the file and each account's fate."""
    rng = random.Random(seed)
    lines = ["reference,received_on,account_no,invoice_no,amount,method"]
    fate = {}
    received = datetime.now(timezone.utc).date()
    for number, (account_no, bill_id, due) in enumerate(bills):
        roll = rng.random()
        if due <= 0 or roll < 0.15:
            fate[account_no] = "unpaid" if due > 0 else "nothing due"
            continue
        amount = due if roll < 0.85 else (due // 2 if roll < 0.95 else due + 1000)
        fate[account_no] = "paid" if amount == due else ("partial" if amount < due else "overpaid")
        invoice = str(bill_id) if number % 3 == 0 else ""
        lines.append(f"LB{seed}-{number:06d},{received},{account_no},{invoice},{amount / 100:.2f},check")
    lines.append(f"LB{seed}-X1,{received},NO-SUCH-ACCOUNT,,25.00,check")
    lines.append(f"LB{seed}-X2,{received},,,12.34,check")
    return "\n".join(lines) + "\n", fate


def run_receivables(settings: Settings, conn: psycopg.Connection, output_dir: Path, seed: int) -> ReceivablesReport:
    entities = configured_entities(settings)
    currency = settings.currency
    sink = MailSink()
    sink.start()
    try:
        now = datetime.now(timezone.utc)
        delivered = deliver_pending(conn, entities, configured_delivery(replace(settings, smtp_port=sink.port,
                                                            output_dir=str(output_dir))), now)
    finally:
        sink.stop()
    bills = issued_bills(conn)
    text, fate = lockbox_for(bills, seed)
    lockbox = output_dir / "lockbox.csv"
    lockbox.write_text(text)
    first = import_lockbox(conn, text, lockbox.name, now, currency=currency)
    second = import_lockbox(conn, text, lockbox.name, now, currency=currency)
    latest_due = latest_due_date(conn)
    grace = max(e.grace_days for e in entities.values())
    collections_day = latest_due + timedelta(days=grace + 1)
    collected = run_collections(conn, entities, collections_day, now)
    rows = trial_balance(conn)
    debits, credits = sum(r[1] for r in rows), sum(r[2] for r in rows)
    balanced = debits == credits and not unbalanced_transactions(conn)
    unpaid = sum(1 for f in fate.values() if f in ("unpaid", "partial"))
    counts = {kind: sum(1 for f in fate.values() if f == kind) for kind in ("paid", "partial", "overpaid", "unpaid")}
    lines = [
        f"bills delivered        {delivered.printed + delivered.emailed + delivered.portal:>12,}   "
        f"({delivered.printed} printed in {delivered.print_batch.name if delivered.print_batch else '-'}, "
        f"{len(sink.messages)} e-mailed, {delivered.portal} to the portal; {delivered.failed} failed)",
        f"payments imported      {first.applied:>12,}   applied ({format_minor(first.applied_minor, currency)} {currency}; "
        f"{counts['paid']} in full, {counts['partial']} in part, {counts['overpaid']} over), {first.unmatched} to the "
        f"payment-exception queue; the same file again: {second.duplicates} taken before, {second.applied} applied",
        f"collections            {collected.late_fees:>12,}   late fees on {collections_day} "
        f"({format_minor(collected.late_fees_minor, currency)} {currency}) and reminders for {unpaid} accounts "
        f"not paid in full",
        f"trial balance          debits {format_minor(debits, currency)} = credits {format_minor(credits, currency)} "
        f"{currency}: {'yes' if balanced else 'NO'}",
    ]
    consistent = (balanced and second.applied == 0 and second.duplicates == first.applied + first.unmatched
                  and first.unmatched == 2 and collected.late_fees == unpaid and delivered.failed == 0
                  and len(sink.messages) == delivered.emailed)
    return ReceivablesReport(lines, consistent)
