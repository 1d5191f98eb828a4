"""Lockbox files: every bad line reported with its number, good lines kept, control total checked."""
from datetime import date
from decimal import Decimal

from billing.lockbox import parse_lockbox

GOOD = """reference,received_on,account_no,invoice_no,amount,method
LB-1,2026-11-20,A0000001,,120.50,check
LB-2,2026-11-20,,17,10,ach
LB-3,2026-11-21,,,5.00,
"""


def test_good_lines_become_payments():
    parsed = parse_lockbox(GOOD, "lb.csv")
    assert parsed.errors == []
    assert [(p.reference, p.amount, p.account_no, p.invoice_no, p.method, p.source_line) for p in parsed.payments] == [
        ("LB-1", Decimal("120.50"), "A0000001", None, "check", 2), ("LB-2", Decimal("10"), None, "17", "ach", 3),
        ("LB-3", Decimal("5.00"), None, None, "check", 4)]
    assert parsed.payments[0].received_on == date(2026, 11, 20)


def test_bad_lines_are_reported_by_number_and_the_rest_kept():
    text = GOOD + "LB-4,2026-13-01,A1,,1.00,check\nLB-5,2026-11-21,A1,,-3,check\nLB-1,2026-11-21,A1,,1.001,bitcoin\n" \
                  "short,line\n"
    parsed = parse_lockbox(text, "lb.csv")
    assert [p.reference for p in parsed.payments] == ["LB-1", "LB-2", "LB-3"]
    numbers = [number for number, _ in parsed.errors]
    assert numbers == [5, 6, 7, 8]
    assert "received_on" in parsed.errors[0][1] and "amount" in parsed.errors[1][1]
    assert "repeats line 2" in parsed.errors[2][1] and "method" in parsed.errors[2][1]


def test_a_wrong_control_total_imports_nothing():
    parsed = parse_lockbox(GOOD + "TOTAL,,,,,135.49\n", "lb.csv")
    assert parsed.payments == [] and "control total" in parsed.errors[0][1]
    parsed = parse_lockbox(GOOD + "TOTAL,,,,,135.50\n", "lb.csv")
    assert len(parsed.payments) == 3 and parsed.errors == []


def test_a_file_without_the_header_is_refused():
    parsed = parse_lockbox("LB-1,2026-11-20,A1,,1,check\n", "lb.csv")
    assert parsed.payments == [] and parsed.errors[0][0] == 1
