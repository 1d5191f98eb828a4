"""Billing's exceptions: one root, one class per code, each with the HTTP status a request that
raised it is answered with (a change without who and why is the project's
``config.errors.ReasonRequired``).

    BillingError
    ├── BadAmount           bad_amount: an amount that is not a positive number in the currency's decimals
    ├── BadCycleCount       bad_cycles: cycles are one per start day, 1 to 28
    ├── BillRunBusy         bill_run_busy: another bill run holds the period
    ├── UnknownPeriod       unknown_period: no such billing period
    ├── UnknownBill         unknown_bill
    ├── BillStateError      bill_state: cancel/rebill/deliver on a bill in the wrong state
    │   └── NotIssued       not_issued
    ├── LedgerError         ledger_error: a posting that would break the ledger
    │   ├── Unbalanced      unbalanced
    │   └── UnknownAccount  unknown_account
    ├── PaymentError        payment_error: a payment that cannot be taken as given
    │   ├── NoReference     no_reference
    │   ├── UnknownPayment  unknown_payment
    │   ├── NotUnmatched    not_unmatched
    │   ├── AlreadyReturned already_returned
    │   └── MoreThanCredit  more_than_credit
    ├── ArrangementError    arrangement_error: a payment arrangement that cannot be made
    │   ├── BadArrangement  bad_arrangement
    │   ├── NothingOwed     nothing_owed
    │   └── ArrangementExists arrangement_exists
    └── PolicyError         policy_error: a billing-entity policy file with errors (every error, with its path)
"""
from __future__ import annotations

from config.errors import M2CError


class BillingError(M2CError):
    code = "billing_error"


class BadAmount(BillingError):
    code = "bad_amount"


class BadCycleCount(BillingError):
    code = "bad_cycles"


class BillRunBusy(BillingError):
    """Another bill run holds the same billing period."""

    code = "bill_run_busy"
    status = 409


class UnknownPeriod(BillingError):
    code = "unknown_period"
    status = 404


class UnknownBill(BillingError):
    code = "unknown_bill"
    status = 404


class BillStateError(BillingError):
    code = "bill_state"
    status = 409


class NotIssued(BillStateError):
    code = "not_issued"


class LedgerError(BillingError):
    code = "ledger_error"


class Unbalanced(LedgerError):
    code = "unbalanced"
    status = 500  # postings are built by the code, never typed in: a defect


class UnknownAccount(LedgerError):
    code = "unknown_account"
    status = 404


class PaymentError(BillingError):
    code = "payment_error"


class NoReference(PaymentError):
    code = "no_reference"


class UnknownPayment(PaymentError):
    code = "unknown_payment"
    status = 404


class NotUnmatched(PaymentError):
    code = "not_unmatched"
    status = 409


class AlreadyReturned(PaymentError):
    code = "already_returned"
    status = 409


class MoreThanCredit(PaymentError):
    code = "more_than_credit"
    status = 409


class ArrangementError(BillingError):
    code = "arrangement_error"


class BadArrangement(ArrangementError):
    code = "bad_arrangement"


class NothingOwed(ArrangementError):
    code = "nothing_owed"
    status = 409


class ArrangementExists(ArrangementError):
    code = "arrangement_exists"
    status = 409


class PolicyError(BillingError):
    code = "policy_error"

    def __init__(self, errors: list[tuple[str, str, str]]):
        self.errors = errors  # (path, code, message)
        super().__init__("\n".join(f"{path}: {code}: {message}" for path, code, message in errors))
