"""Billing's exceptions: one root, codes an operator can act on."""
from __future__ import annotations


class BillingError(Exception):
    code = "billing_error"


class BillRunBusy(BillingError):
    """Another bill run holds the same billing period."""

    code = "bill_run_busy"


class UnknownPeriod(BillingError):
    code = "unknown_period"
