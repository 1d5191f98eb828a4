from datetime import date
from decimal import Decimal
from importlib import resources

from billing.invoice import build_account_bill
from billing.ledger import RECEIVABLE
from rating.tariff import parse_tariff
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, Period

PERIOD = Period(1, date(2026, 10, 20), date(2026, 11, 19))


def tariffs():
    folder = resources.files("rating.tariffs")
    out = {}
    for number, path in enumerate(sorted(folder.iterdir(), key=lambda p: p.name)):
        if path.name.endswith(".toml"):
            tariff = parse_tariff(path.read_text())
            out[tariff.code] = PublishedTariff(number + 1, tariff)
    return out


def agreement(number, service, code, quantity, unit, power):
    return AgreementUsage(10, PERIOD, number, service, code, quantity, 100, PERIOD.end, unit, power,
                          "America/Chicago", "USD", {}, PERIOD.start, None)


def test_consolidated_bill_and_balanced_postings():
    usages = [agreement(1, "electric", "E-RES", 712_345, "Wh", 0),
              agreement(2, "water", "W-RES", 61_000, "gal", -1),
              agreement(3, "gas", "G-RES", 250_000, "ft3", -1)]
    bill = build_account_bill(10, usages, tariffs())
    assert bill.hold_reason is None
    assert [s.service for s in bill.services] == ["electric", "water", "gas"]
    # electric: 12.50 + 500 x 0.1124 + 212.345 x 0.1398 = 12.50 + 56.20 + 29.686...
    electric = bill.services[0].lines
    assert [l.amount_minor for l in electric] == [1250, 5620, 2969]
    assert electric[2].quantity == Decimal("212.345")
    # water: 6.1 kgal: 18.75 + 4 x 3.85 + 2.1 x 5.20
    assert [l.amount_minor for l in bill.services[1].lines] == [1875, 1540, 1092]
    # gas: 250 CCF x 1.037 = 259.25 therms: 9.00 + 50 x 1.0412 + 209.25 x 1.2265
    assert [l.amount_minor for l in bill.services[2].lines] == [900, 5206, 25665]
    postings = bill.ledger_postings()
    assert sum(amount for _, amount in postings) == 0
    assert postings[0] == (RECEIVABLE, bill.total_minor)
    assert len(bill.line_rows()) == 9


def test_an_account_without_a_tariff_is_held_not_billed_in_part():
    usages = [agreement(1, "electric", "E-RES", 1000, "Wh", 0), agreement(2, "water", "NOPE", 10, "gal", -1)]
    bill = build_account_bill(10, usages, tariffs())
    assert bill.hold_reason == "no_tariff:water:NOPE"


def test_unit_mismatch_holds_the_account():
    bill = build_account_bill(10, [agreement(1, "electric", "E-RES", 1000, "gal", 0)], tariffs())
    assert bill.hold_reason == "unit_mismatch:electric"
