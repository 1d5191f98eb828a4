"""The ledger's pure rules: open items settled oldest first, derived from entries alone."""
from hypothesis import given, settings, strategies as st

from billing.ledger import CASH, RECEIVABLE, Entry, balanced, receivable, reversal, revenue
from billing.errors import LedgerError

import pytest


def bill(tx, amount, bill_id):
    return [Entry(tx, RECEIVABLE, amount, "bill", bill_id), Entry(tx, revenue("water"), -amount, "bill", bill_id)]


def payment(tx, amount):
    return [Entry(tx, CASH, amount, "payment", payment_id=tx), Entry(tx, RECEIVABLE, -amount, "payment", payment_id=tx)]


def test_payments_settle_the_oldest_open_bill_first_and_overpayments_become_credit():
    entries = bill(1, 10_000, 1) + bill(2, 5_000, 2) + payment(3, 12_000)
    state = receivable(entries)
    assert [(i.bill_id, i.open_minor) for i in state.items] == [(1, 0), (2, 3_000)]
    assert state.balance_minor == 3_000 and state.credit_minor == 0
    state = receivable(entries + payment(4, 5_000))
    assert [i.open_minor for i in state.items] == [0, 0]
    assert state.credit_minor == 2_000 and state.balance_minor == -2_000
    # the credit pays the next bill
    state = receivable(entries + payment(4, 5_000) + bill(5, 2_500, 3))
    assert state.items[-1].open_minor == 500 and state.credit_minor == 0


def test_a_cancelled_bill_is_settled_by_its_own_reversal_not_the_oldest_bill():
    entries = bill(1, 10_000, 1) + bill(2, 5_000, 2)
    entries += [Entry(3, RECEIVABLE, -5_000, "bill_reversal", 2), Entry(3, revenue("water"), 5_000, "bill_reversal", 2)]
    state = receivable(entries)
    assert [(i.bill_id, i.open_minor) for i in state.items] == [(1, 10_000), (2, 0)]


def test_unbalanced_postings_are_refused():
    with pytest.raises(LedgerError):
        balanced([(RECEIVABLE, 100), (CASH, -99)])
    assert balanced(reversal([(RECEIVABLE, 100), (CASH, -100)])) == [(RECEIVABLE, -100), (CASH, 100)]


operations = st.lists(st.tuples(st.sampled_from(["bill", "payment", "cancel", "adjust", "return"]),
                                st.integers(1, 50_000)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(operations)
def test_open_items_always_add_up_to_the_balance(ops):
    entries, bills, payments = [], [], []
    for tx, (kind, amount) in enumerate(ops, start=1):
        if kind == "bill":
            entries += bill(tx, amount, tx)
            bills.append((tx, amount))
        elif kind == "payment":
            entries += payment(tx, amount)
            payments.append((tx, amount))
        elif kind == "cancel" and bills:
            bill_id, billed = bills.pop(amount % len(bills))
            entries += [Entry(tx, RECEIVABLE, -billed, "bill_reversal", bill_id),
                        Entry(tx, revenue("water"), billed, "bill_reversal", bill_id)]
        elif kind == "return" and payments:
            payment_id, paid = payments.pop(amount % len(payments))
            entries += [Entry(tx, RECEIVABLE, paid, "payment_return", payment_id=payment_id),
                        Entry(tx, CASH, -paid, "payment_return", payment_id=payment_id)]
        elif kind == "adjust":
            signed = amount if amount % 2 else -amount
            entries += [Entry(tx, RECEIVABLE, signed, "adjustment"), Entry(tx, "adjustments", -signed, "adjustment")]
    state = receivable(entries)
    ledger_balance = sum(e.amount_minor for e in entries if e.ledger_account == RECEIVABLE)
    assert state.balance_minor == ledger_balance
    assert all(0 <= i.open_minor <= i.amount_minor for i in state.items)
    assert state.credit_minor >= 0
    # credit only while nothing is open: a credit is always used by an open item first
    assert state.credit_minor == 0 or not state.open_items()
    # every transaction sums to zero, so the whole ledger does
    assert sum(e.amount_minor for e in entries) == 0
    # order of the entries given does not matter
    assert receivable(list(reversed(entries))).balance_minor == ledger_balance
