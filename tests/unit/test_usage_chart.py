"""The customer's usage chart: the bill's units, every day of the period, axes, hover text and last
year's same days."""
from datetime import date
from decimal import Decimal

from portal.usage_chart import charts, in_customer_unit, nice_top


def row(day: str, quantity: str, unit: str = "Wh", service: str = "electric") -> dict:
    return {"service": service, "day": day, "quantity": quantity, "unit": unit}


def test_quantities_are_in_the_units_bills_speak():
    assert in_customer_unit("48123", "Wh") == (Decimal("48.123"), "kWh", 1)
    assert in_customer_unit("1234", "ft3") == (Decimal("12.34"), "ccf", 2)
    assert in_customer_unit("350", "gal")[:2] == (Decimal(350), "gallons")


def test_the_axis_top_is_a_round_number_at_or_above_the_largest_day():
    assert [nice_top(Decimal(v)) for v in ("0", "0.7", "48", "51", "199", "260")] == \
        [Decimal(1), Decimal(1), Decimal(50), Decimal(100), Decimal(200), Decimal(500)]


def test_every_day_has_a_slot_with_its_value_and_last_years_on_hover():
    usage = [row("2026-09-01", "48000"), row("2026-09-03", "24500")]
    before = [row("2025-09-01", "40000"), row("2025-09-02", "100000")]
    [chart] = charts(usage, before, date(2026, 9, 1), date(2026, 9, 8))
    assert chart["unit"] == "kWh" and len(chart["slots"]) == 7 and chart["total"] == "72.5"
    first, second, third = chart["slots"][:3]
    assert first["title"] == "Tue 01 Sep 2026: 48.0 kWh · last year 40.0 kWh"
    assert second["title"] == "Wed 02 Sep 2026: no reads yet · last year 100.0 kWh" and second["bar"] is None
    assert third["dot"] is None and third["bar"]["h"] < first["bar"]["h"]
    # the axis reaches last year's 100 kWh day, so nothing is drawn off the chart
    assert chart["ticks"][-1]["label"] == "100" and all(s["bar"] is None or s["bar"]["y"] >= chart["top"]
                                                          for s in chart["slots"])
    assert chart["labels"][0]["text"] == "Sep 1" and chart["has_last_year"]


def test_without_last_year_nothing_is_compared_and_services_chart_apart():
    usage = [row("2026-09-01", "48000"), row("2026-09-01", "3500", "gal", "water")]
    made = {c["service"]: c for c in charts(usage, [], date(2026, 9, 1), date(2026, 10, 1))}
    assert set(made) == {"electric", "water"} and made["water"]["unit"] == "gallons"
    assert not made["water"]["has_last_year"] and len(made["water"]["slots"]) == 30
    assert [label["text"] for label in made["water"]["labels"]] == ["Sep 1", "Sep 8", "Sep 15", "Sep 22", "Sep 29"]


def test_gas_billed_in_therms_is_shown_in_therms_with_the_heating_value_of_each_day():
    usage = [row("2026-09-01", "15000", "ft3", "gas"), row("2026-09-02", "15000", "ft3", "gas")]

    def heat(service: str, day: date):  # the tariff's heating value changes on 2 September
        return Decimal("1.037") if day < date(2026, 9, 2) else Decimal("1.1")

    [chart] = charts(usage, [], date(2026, 9, 1), date(2026, 9, 3), heat)
    assert chart["unit"] == "therms" and chart["total"] == "320.6"  # 155.55 + 165.00
    assert chart["slots"][0]["title"] == "Tue 01 Sep 2026: 155.6 therms"
    [in_ccf] = charts(usage, [], date(2026, 9, 1), date(2026, 9, 3))
    assert in_ccf["unit"] == "ccf" and in_ccf["total"] == "300.00"
