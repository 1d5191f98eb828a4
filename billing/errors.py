"""Billing's exceptions: one root, codes an operator can act on.

    BillingError
    ├── BillRunBusy        another bill run holds the period
    ├── UnknownPeriod      no such billing period
    ├── LedgerError        a posting that would break the ledger (unbalanced, unknown account)
    ├── PaymentError       a payment that cannot be taken as given (amount, state)
    ├── BillStateError     cancel/rebill/deliver on a bill in the wrong state
    └── PolicyError        a billing-entity policy file with errors (every error, with its path)
"""
from __future__ import annotations


class BillingError(Exception):
    code = "billing_error"

    def __init__(self, *args):
        # BillingError("message") or BillingError("code", "message")
        if len(args) == 2:
            self.code, message = args
            super().__init__(message)
        else:
            super().__init__(*args)


class BillRunBusy(BillingError):
    """Another bill run holds the same billing period."""

    code = "bill_run_busy"


class UnknownPeriod(BillingError):
    code = "unknown_period"


class LedgerError(BillingError):
    code = "ledger_error"


class PaymentError(BillingError):
    code = "payment_error"


class BillStateError(BillingError):
    code = "bill_state"


class PolicyError(BillingError):
    code = "policy_error"

    def __init__(self, errors: list[tuple[str, str, str]]):
        self.errors = errors  # (path, code, message)
        super().__init__("\n".join(f"{path}: {code}: {message}" for path, code, message in errors))
