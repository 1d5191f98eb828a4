from datetime import date
from decimal import Decimal
from importlib import resources

import pytest
from hypothesis import given, strategies as st

from rating.charges import Usage
from rating.errors import NoTariffVersion, TariffInvalid, UnitMismatch
from rating.money import format_minor, to_minor
from rating.pricing import estimate, price_usage
from rating.tariff import parse_tariff
from rating.units import to_billing_unit

ELECTRIC = """
code = "E-T"
service = "electric"
currency = "USD"
billing_unit = "kWh"

[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "10.00"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ up_to = "100", price = "0.10" }, { up_to = "300", price = "0.20" }, { price = "0.30" }]

[[versions]]
effective_from = "2026-07-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "11.00"
"""


def usage(quantity, days=30, billed=30):
    return Usage(Decimal(quantity), days, billed)


def test_tiers_by_hand():
    tariff = parse_tariff(ELECTRIC)
    quote = price_usage(tariff, tariff.versions[0], usage("350"))
    assert [(l.code, l.quantity, l.amount_minor) for l in quote.lines] == [
        ("customer", Decimal(1), 1000),
        ("energy.tier1", Decimal(100), 1000),  # 100 x 0.10
        ("energy.tier2", Decimal(200), 4000),  # 200 x 0.20
        ("energy.tier3", Decimal(50), 1500),  # 50 x 0.30
    ]
    assert quote.total_minor == 7500
    assert all(l.tariff_version == "E-T@2026-01-01" for l in quote.lines)


def test_tier_boundary_is_exact():
    tariff = parse_tariff(ELECTRIC)
    quote = price_usage(tariff, tariff.versions[0], usage("100"))
    assert [l.code for l in quote.lines] == ["customer", "energy.tier1"]
    quote = price_usage(tariff, tariff.versions[0], usage("100.001"))
    assert quote.lines[-1].code == "energy.tier2" and quote.lines[-1].quantity == Decimal("0.001")


def test_zero_usage_still_shows_the_first_tier():
    tariff = parse_tariff(ELECTRIC)
    quote = price_usage(tariff, tariff.versions[0], usage("0"))
    assert [l.code for l in quote.lines] == ["customer", "energy.tier1"] and quote.total_minor == 1000


def test_fixed_charge_prorated_by_days():
    tariff = parse_tariff(ELECTRIC)
    quote = price_usage(tariff, tariff.versions[0], usage("0", days=30, billed=10))
    assert quote.lines[0].amount == Decimal("10.00") * 10 / 30
    assert quote.lines[0].amount_minor == 333


def test_version_on_date():
    tariff = parse_tariff(ELECTRIC)
    assert tariff.version_on(date(2026, 6, 30)).effective_from == date(2026, 1, 1)
    assert tariff.version_on(date(2026, 7, 1)).effective_from == date(2026, 7, 1)
    with pytest.raises(NoTariffVersion):
        tariff.version_on(date(2025, 12, 31))


def test_rounding_is_half_up_once_per_line():
    assert to_minor(Decimal("0.005"), "USD") == 1
    assert to_minor(Decimal("0.0049999"), "USD") == 0
    assert to_minor(Decimal("-0.005"), "USD") == -1
    assert to_minor(Decimal("12.5"), "JPY") == 13
    assert format_minor(123456, "USD") == "1,234.56"


def test_estimate_projects_linearly_and_equals_final_bill_on_the_last_day():
    tariff = parse_tariff(ELECTRIC)
    version = tariff.versions[0]
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    partial = estimate(tariff, start, end, Decimal(100), days_elapsed=10, zone="America/Chicago")
    assert partial.bill_to_date.total_minor == 333 + 1000  # a third of the customer charge, whole tiers
    assert partial.projected.total_minor == price_usage(tariff, version, usage("300")).total_minor
    whole = estimate(tariff, start, end, Decimal(350), days_elapsed=30, zone="America/Chicago")
    assert whole.bill_to_date.total_minor == whole.projected.total_minor == 7500


def test_every_problem_is_reported_with_its_path():
    text = """
code = "BAD"
service = "steam"
currency = "XYZ"
billing_unit = "kWh"
colour = "blue"

[[versions]]
effective_from = "2026-13-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = 10.0
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ up_to = "300", price = "0.1" }, { up_to = "200", price = "abc" }, { up_to = "900", price = "0.3" }]
  [[versions.charges]]
  kind = "magic"
  code = "x"
"""
    with pytest.raises(TariffInvalid) as raised:
        parse_tariff(text, "bad.toml")
    found = {(p.path, p.code) for p in raised.value.problems}
    assert found == {
        ("service", "unknown_service"),
        ("currency", "unknown_currency"),
        ("colour", "unknown_key"),
        ("versions[0].effective_from", "not_a_date"),
        ("versions[0].charges[0].amount", "not_a_decimal_string"),
        ("versions[0].charges[1].tiers[1].up_to", "tiers_not_increasing"),
        ("versions[0].charges[1].tiers[1].price", "not_a_decimal"),
        ("versions[0].charges[1].tiers[2].up_to", "bounded_last_tier"),
        ("versions[0].charges[2].kind", "unknown_charge_kind"),
    }
    assert "bad.toml: 9 problem(s)" in str(raised.value)


def test_not_toml_is_one_clear_problem():
    with pytest.raises(TariffInvalid) as raised:
        parse_tariff("code = ", "broken.toml")
    assert raised.value.problems[0].code == "not_toml"


def test_builtin_tariffs_are_valid():
    files = [p for p in resources.files("rating.tariffs").iterdir() if p.name.endswith(".toml")]
    codes = {parse_tariff(path.read_text(), path.name).code for path in files}
    assert codes == {"E-RES", "E-TOU", "W-RES", "G-RES"}


def test_units_are_exact():
    assert to_billing_unit(1234567, 0, "Wh", "kWh") == Decimal("1234.567")
    assert to_billing_unit(12345, -1, "gal", "kgal") == Decimal("1.2345")
    assert to_billing_unit(1000, -1, "ft3", "therm", Decimal("1.037")) == Decimal("1.037")
    with pytest.raises(UnitMismatch):
        to_billing_unit(1, 0, "gal", "kWh")


@given(st.integers(0, 10**9), st.integers(0, 10**9))
def test_tiered_total_is_additive_over_quantity_split_at_a_boundary(a, b):
    """Pricing is a pure function of the period's total: the same intervals in any batching give one bill."""
    tariff = parse_tariff(ELECTRIC)
    version = tariff.versions[0]
    whole = price_usage(tariff, version, usage(Decimal(a + b) / 1000))
    again = price_usage(tariff, version, usage(Decimal(b + a) / 1000))
    assert whole.total_minor == again.total_minor
    energy = sum(l.amount for l in whole.lines if l.code.startswith("energy"))
    q = Decimal(a + b) / 1000
    expected = (min(q, 100) * Decimal("0.10") + max(min(q, 300) - 100, 0) * Decimal("0.20")
                + max(q - 300, 0) * Decimal("0.30"))
    assert energy == expected
