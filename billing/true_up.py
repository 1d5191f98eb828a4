"""True-up of estimated bills: once the reads of an estimated bill's period are all actual (late reads
replaced the estimates), the account's next bill carries the difference between that period priced
now and what was billed, one line per service, and the estimated bill is marked trued up."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg

from billing.invoice import AccountBill, ServiceCharges, build_account_bill
from billing.pricing_inputs import histories, interval_inputs
from rating.money import MINOR_UNITS
from rating.pricing import PricedLine
from storage import bill_records as records
from storage.usage import usage_for


def add_true_ups(conn: psycopg.Connection, bills: list[AccountBill], billing_period_id: int, tariffs) -> int:
    """Append true-up charges to ``bills`` (those about to be written); returns how many were added."""
    if not bills:
        return 0
    by_account = {bill.account_id: bill for bill in bills}
    pending = records.estimated_bills_to_true_up(conn, list(by_account), billing_period_id)
    added = 0
    for old_bill, account_id, period_id, start, end, currency in pending:
        usages = usage_for(conn, [(account_id, period_id)])
        if not usages or any(u.estimated_count for u in usages):
            continue  # still (partly) estimated: wait for the actual reads
        summaries, intervals = interval_inputs(conn, usages, tariffs)
        repriced = build_account_bill(account_id, usages, tariffs, intervals, histories(conn, usages, tariffs),
                                      summaries=summaries)
        if repriced.hold_reason:
            continue
        billed = records.charges_by_agreement(conn, old_bill)
        for service in repriced.services:
            now_minor = sum(line.amount_minor for line in service.lines)
            difference = now_minor - int(billed.get(service.service_agreement_id, 0))
            line = PricedLine("true_up", f"True-up of estimated bill {old_bill} ({start} to {end - timedelta(days=1)}) "
                              "on actual reads", Decimal(1), "bill", None,
                              Decimal(difference).scaleb(-MINOR_UNITS[currency]), difference,
                              service.lines[0].tariff_version if service.lines else "")
            by_account[account_id].services.append(ServiceCharges(
                service.service_agreement_id, service.service, service.tariff_revision_id, (line,), None,
                "true_up", old_bill))
            added += 1
    return added
