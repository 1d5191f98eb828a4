"""Every rate design on hand-computed examples (amounts in cents, half-up per line)."""
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from rating.charges import History
from rating.errors import MissingAttribute, NeedsHistory, NeedsIntervals, TariffInvalid
from rating.pricing import UsageInput, rate
from rating.tariff import parse_tariff
from rating.usage import IntervalData

ZONE = "America/Denver"
KWH = Decimal("0.001")  # Wh -> kWh


def tariff(body: str, service="electric", unit="kWh"):
    return parse_tariff(f'code = "T"\nservice = "{service}"\ncurrency = "USD"\nbilling_unit = "{unit}"\n' + body)


def cents(quote):
    return {line.code: line.amount_minor for line in quote.lines}


def hourly(start: date, days: int, values_wh) -> IntervalData:
    """Hourly intervals from local midnight of ``start`` for ``days`` local days (DST-aware)."""
    first = int(datetime.combine(start, time(0), ZoneInfo(ZONE)).timestamp())
    last = int(datetime.combine(start + timedelta(days=days), time(0), ZoneInfo(ZONE)).timestamp())
    starts = np.arange(first, last, 3600, dtype=np.int64)
    values = np.asarray(values_wh(starts) if callable(values_wh) else np.full(len(starts), values_wh), np.int64)
    return IntervalData(starts, 3600, values)


def local_hour(starts):
    zone = ZoneInfo(ZONE)
    return np.array([datetime.fromtimestamp(int(t), zone).hour for t in starts])


# ---------------------------------------------------------------- fixed, minimum, by attribute
FIXED = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "service"
  by_attribute = "meter_size"
  amounts = { '3/4"' = "68.68", '1"' = "83.65" }
  [[versions.charges]]
  kind = "tiered"
  code = "water"
  tiers = [{ up_to = "10", price = "5.98" }, { price = "7.59" }]
  [[versions.charges]]
  kind = "minimum"
  code = "minimum_bill"
  amount = "80.00"
"""


def test_fixed_charge_by_meter_size_and_minimum_bill():
    t = tariff(FIXED, "water", "CCF")
    june = (date(2026, 6, 1), date(2026, 7, 1))
    small = rate(t, *june, UsageInput(Decimal(1)), zone=ZONE, attributes={"meter_size": '3/4"'})
    assert cents(small) == {"service": 6868, "water.tier1": 598, "minimum_bill": 534}  # 80.00 - 74.66
    large = rate(t, *june, UsageInput(Decimal(12)), zone=ZONE, attributes={"meter_size": '1"'})
    assert cents(large) == {"service": 8365, "water.tier1": 5980, "water.tier2": 1518}
    with pytest.raises(MissingAttribute):
        rate(t, *june, UsageInput(Decimal(1)), zone=ZONE, attributes={"meter_size": "9 ft"})


def test_move_in_mid_period_prorates_fixed_charges_and_tier_widths():
    t = tariff(FIXED, "water", "CCF")
    quote = rate(t, date(2026, 6, 1), date(2026, 7, 1), UsageInput(Decimal(6)), zone=ZONE,
                 attributes={"meter_size": '3/4"'}, service_from=date(2026, 6, 16))
    # 15 of 30 days: half the service charge, tier 1 is 5 CCF wide, minimum bill 40.00
    assert cents(quote) == {"service": 3434, "water.tier1": 2990, "water.tier2": 759}
    assert quote.lines[0].unit == "day" and quote.lines[0].quantity == 15


# ---------------------------------------------------------------- water budget, sewer, seasons
BUDGET = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "tiered"
  code = "water"
  budget = [{ attribute = "household_size", per_unit = "0.055", per_day = true },
            { attribute = "irrigated_area", per_unit = "0.5" }]
  tiers = [{ up_to_budget_percent = "100", price = "3.00" }, { up_to_budget_percent = "150", price = "5.00" },
           { price = "9.00" }]
  [[versions.charges]]
  kind = "tiered"
  code = "sewer"
  basis = "winter_average"
  tiers = [{ price = "4.00" }]
"""


def test_budget_tiers_and_sewer_on_winter_average():
    t = tariff(BUDGET, "water", "kgal")
    # budget: 4 people x 0.055 kgal x 30 days = 6.6, plus 2 (thousand sq ft) x 0.5 = 1.0 -> 7.6 kgal
    quote = rate(t, date(2026, 6, 1), date(2026, 7, 1), UsageInput(Decimal(12)), zone=ZONE,
                 attributes={"household_size": "4", "irrigated_area": "2"},
                 history=History(winter_average=Decimal("5.5")))
    assert cents(quote) == {
        "water.tier1": 2280,  # 7.6 x 3.00
        "water.tier2": 1900,  # 3.8 x 5.00 (to 11.4)
        "water.tier3": 540,  # 0.6 x 9.00
        "sewer.tier1": 2200,  # winter average 5.5 x 4.00 (below use)
    }
    with pytest.raises(NeedsHistory):
        rate(t, date(2026, 6, 1), date(2026, 7, 1), UsageInput(Decimal(1)), zone=ZONE,
             attributes={"household_size": "1", "irrigated_area": "0"})


SEASONS = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "tiered"
  code = "summer"
  months = [6, 7, 8, 9]
  tiers = [{ up_to = "500", price = "0.10" }, { price = "0.20" }]
  [[versions.charges]]
  kind = "tiered"
  code = "winter"
  months = [1, 2, 3, 4, 5, 10, 11, 12]
  tiers = [{ price = "0.08" }]
"""


def test_seasonal_tiers_split_a_period_that_crosses_the_season_change():
    t = tariff(SEASONS)
    # Sept 16 - Oct 16: 15 summer days, 15 winter days; 1,000 kWh split by days
    quote = rate(t, date(2026, 9, 16), date(2026, 10, 16), UsageInput(Decimal(1000)), zone=ZONE)
    assert [(l.code, l.quantity, l.amount_minor) for l in quote.lines] == [
        ("summer.tier1", Decimal(250), 2500),  # tier width 500 x 15/30
        ("summer.tier2", Decimal(250), 5000),
        ("winter.tier1", Decimal(500), 4000),
    ]
    assert "(Sep 16-Sep 30)" in quote.lines[0].description


# ---------------------------------------------------------------- time of use and demand
TOU = """
[[versions]]
effective_from = "2026-01-01"
  [versions.tou]
  periods = ["off_peak", "on_peak"]
  default = "off_peak"
  holidays = ["2026-07-03"]
  rules = [{ period = "on_peak", months = [6, 7, 8, 9], days = "weekday", hours = [15, 19] }]
  [[versions.charges]]
  kind = "fixed"
  code = "service"
  amount = "5.71"
  [[versions.charges]]
  kind = "tou_energy"
  code = "energy"
  prices = { off_peak = "0.06387", on_peak = "0.17246" }
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10.00"
  [[versions.charges]]
  kind = "demand"
  code = "peak_demand"
  period = "on_peak"
  price = "5.00"
"""


def test_time_of_use_energy_and_demand_by_hand():
    t = tariff(TOU)
    # July 2026: 23 weekdays, one of them (Fri 3rd) a holiday -> 22 x 4 = 88 on-peak hours
    def load(starts):
        hour = local_hour(starts)
        return np.where((hour >= 15) & (hour < 19), 3000, 1000)  # 3 kW in the afternoon, 1 kW otherwise
    data = hourly(date(2026, 7, 1), 31, load)
    quote = rate(t, date(2026, 7, 1), date(2026, 8, 1), UsageInput(intervals=data, factor=KWH), zone=ZONE)
    on_peak_kwh = Decimal(88 * 3)
    off_peak_kwh = Decimal(31 * 24 - 88) * 1 + Decimal(31 - 22) * 4 * 2  # afternoons of weekends/holiday at 3 kW
    assert [l.quantity for l in quote.lines if l.code.startswith("energy")] == [off_peak_kwh, on_peak_kwh]
    assert cents(quote) == {
        "service": 571,
        "energy.off_peak": int((off_peak_kwh * Decimal("0.06387") * 100).quantize(1, "ROUND_HALF_UP")),
        "energy.on_peak": int((on_peak_kwh * Decimal("0.17246") * 100).quantize(1, "ROUND_HALF_UP")),
        "demand": 3000,  # 3 kW x 10.00
        "peak_demand": 1500,
    }


def test_tou_labels_are_wall_clock_on_dst_days():
    t = tariff(TOU.replace("months = [6, 7, 8, 9], days = \"weekday\", hours = [15, 19]",
                           "months = [11], days = \"all\", hours = [1, 2]"))
    # Sunday 2026-11-01 has 25 hours; 01:00-02:00 local happens twice: both are on-peak
    data = hourly(date(2026, 11, 1), 1, 1000)
    assert len(data.starts) == 25
    quote = rate(t, date(2026, 11, 1), date(2026, 11, 2), UsageInput(intervals=data, factor=KWH), zone=ZONE)
    energy = {l.code: l.quantity for l in quote.lines if l.code.startswith("energy")}
    assert energy == {"energy.off_peak": Decimal(23), "energy.on_peak": Decimal(2)}


def test_demand_ratchet_and_power_factor():
    body = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10.00"
  ratchet_percent = "80"
  ratchet_months = 11
  power_factor_target = "0.90"
"""
    t = tariff(body)
    data = hourly(date(2026, 3, 1), 31, 20_000)  # 20 kW flat
    history = History(peak_demands=(Decimal(30), Decimal(40)))  # ratchet: 80% of 40 = 32 kW
    quote = rate(t, date(2026, 3, 1), date(2026, 4, 1), UsageInput(intervals=data, factor=KWH), zone=ZONE,
                 history=history)
    assert quote.lines[0].quantity == Decimal(32) and quote.lines[0].amount_minor == 32000
    assert "ratchet" in quote.lines[0].description
    reactive = IntervalData(data.starts, 3600, data.imported, reactive=np.full(len(data.starts), 15_000))
    quote = rate(t, date(2026, 3, 1), date(2026, 4, 1), UsageInput(intervals=reactive, factor=KWH), zone=ZONE)
    # power factor 20 / sqrt(20^2 + 15^2) = 0.8 -> 20 kW x 0.90 / 0.8 = 22.5 kW
    assert quote.lines[0].quantity == Decimal("22.5") and quote.lines[0].amount_minor == 22500


def test_time_of_use_needs_intervals():
    with pytest.raises(NeedsIntervals):
        rate(tariff(TOU), date(2026, 7, 1), date(2026, 8, 1), UsageInput(Decimal(10)), zone=ZONE)


# ---------------------------------------------------------------- net metering
NET = """
[[versions]]
effective_from = "2026-01-01"
netting = "{netting}"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{{ price = "0.12" }}]
  [[versions.charges]]
  kind = "export_credit"
  code = "export"
  basis = "{basis}"
  price = "0.04"
"""


def solar_day():
    data = hourly(date(2026, 6, 1), 30, lambda s: np.full(len(s), 1000))  # 1 kWh every hour imported
    hour = local_hour(data.starts)
    exported = np.where((hour >= 10) & (hour < 16), 3000, 0)  # 3 kWh exported 10-16
    return IntervalData(data.starts, 3600, data.imported, exported=exported)


def test_net_billing_credits_each_intervals_net_export():
    t = tariff(NET.format(netting="none", basis="interval_net"))
    quote = rate(t, date(2026, 6, 1), date(2026, 7, 1), UsageInput(intervals=solar_day(), factor=KWH), zone=ZONE)
    # import 720 kWh at 0.12; net export (3 - 1) kWh x 6 h x 30 d = 360 kWh credited at 0.04
    assert cents(quote) == {"energy.tier1": 8640, "export": -1440}


def test_monthly_netting_bills_net_import_and_credits_the_excess():
    t = tariff(NET.format(netting="monthly", basis="monthly_excess"))
    quote = rate(t, date(2026, 6, 1), date(2026, 7, 1), UsageInput(intervals=solar_day(), factor=KWH), zone=ZONE)
    # import 720, export 540: net 180 kWh billed, no excess
    assert cents(quote) == {"energy.tier1": 2160}


# ---------------------------------------------------------------- riders and rate changes
RIDERS = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "10.00"
  [[versions.charges]]
  kind = "tiered"
  code = "water"
  tiers = [{ price = "2.00" }]
  [[versions.charges]]
  kind = "rider"
  code = "drought"
  per_unit = "0.50"
  active_from = "2026-06-16"
  [[versions.charges]]
  kind = "rider"
  code = "low_income_credit"
  percent = "-20"
  of = ["water"]
  only_for = { customer_class = ["LOW_INCOME"] }
  [[versions.charges]]
  kind = "rider"
  code = "tax"
  percent = "5"
"""


def test_riders_by_date_class_and_percentage():
    t = tariff(RIDERS, "water", "kgal")
    june = (date(2026, 6, 1), date(2026, 7, 1))
    quote = rate(t, *june, UsageInput(Decimal(10)), zone=ZONE, attributes={"customer_class": "LOW_INCOME"})
    lines = [(l.code, l.amount_minor) for l in quote.lines]
    # drought surcharge switched on on June 16: the period splits in two 15-day halves
    assert lines == [
        ("customer", 500), ("water.tier1", 1000), ("low_income_credit", -200), ("tax", 65),
        ("customer", 500), ("water.tier1", 1000), ("drought", 250), ("low_income_credit", -200), ("tax", 78),
    ]
    plain = rate(t, *june, UsageInput(Decimal(10)), zone=ZONE, attributes={"customer_class": "RESIDENTIAL"})
    assert "low_income_credit" not in {l.code for l in plain.lines}


CHANGE = """
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "12.00"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ up_to = "300", price = "0.10" }, { price = "0.20" }]

[[versions]]
effective_from = "2026-04-11"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "15.00"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ up_to = "300", price = "0.12" }, { price = "0.24" }]
"""


def test_rate_change_mid_period_prorated_by_days():
    t = tariff(CHANGE)
    quote = rate(t, date(2026, 4, 1), date(2026, 5, 1), UsageInput(Decimal(600)), zone=ZONE)
    # 10 days old rate, 20 days new; 200 / 400 kWh by days; tier 1 widths 100 / 200
    assert [(l.code, l.quantity, l.amount_minor, l.tariff_version) for l in quote.lines] == [
        ("customer", 10, 400, "T@2026-01-01"),
        ("energy.tier1", Decimal(100), 1000, "T@2026-01-01"),
        ("energy.tier2", Decimal(100), 2000, "T@2026-01-01"),
        ("customer", 20, 1000, "T@2026-04-11"),
        ("energy.tier1", Decimal(200), 2400, "T@2026-04-11"),
        ("energy.tier2", Decimal(200), 4800, "T@2026-04-11"),
    ]


def test_rate_change_mid_period_prorated_by_consumption():
    t = tariff(CHANGE)
    data = hourly(date(2026, 4, 1), 30, lambda s: np.where(s < datetime(2026, 4, 11, tzinfo=ZoneInfo(ZONE))
                                                           .timestamp(), 2500, 0))  # all use before the change
    quote = rate(t, date(2026, 4, 1), date(2026, 5, 1), UsageInput(intervals=data, factor=KWH), zone=ZONE,
                 proration="consumption")
    energy = [(l.code, l.quantity, l.tariff_version) for l in quote.lines if l.code.startswith("energy")]
    assert energy == [("energy.tier1", Decimal(100), "T@2026-01-01"), ("energy.tier2", Decimal(500), "T@2026-01-01"),
                      ("energy.tier1", Decimal(0), "T@2026-04-11")]


def test_every_new_problem_is_reported_with_its_path():
    body = """
[[versions]]
effective_from = "2026-01-01"
netting = "weekly"
  [versions.tou]
  periods = ["off", "on"]
  default = "off"
  rules = [{ period = "peak", hours = [3, 2] }]
  [[versions.charges]]
  kind = "tou_energy"
  code = "energy"
  prices = { off = "0.1", shoulder = "0.2" }
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10"
  period = "super"
  power_factor_target = "1.5"
  [[versions.charges]]
  kind = "rider"
  code = "tax"
  per_unit = "0.1"
  percent = "5"
  months = [13]
"""
    with pytest.raises(TariffInvalid) as raised:
        tariff(body)
    found = {(p.path, p.code) for p in raised.value.problems}
    assert found == {
        ("versions[0].netting", "unknown_netting"),
        ("versions[0].tou.rules[0].period", "unknown_period"),
        ("versions[0].charges[0].prices.shoulder", "unknown_period"),
        ("versions[0].charges[1].power_factor_target", "bad_power_factor"),
        ("versions[0].charges[2]", "rider_needs_one_rate"),
        ("versions[0].charges[2].months", "bad_months"),
    }


GAS = """
[[versions]]
effective_from = "2026-01-01"
therms_per_ccf = "1.030"
  [[versions.charges]]
  kind = "tiered"
  code = "gas"
  tiers = [{ price = "1.00" }]

[[versions]]
effective_from = "2026-11-11"
therms_per_ccf = "1.060"
  [[versions.charges]]
  kind = "tiered"
  code = "gas"
  tiers = [{ price = "1.00" }]
"""


def test_gas_heating_value_changes_within_the_period():
    t = tariff(GAS, "gas", "therm")
    quote = rate(t, date(2026, 11, 1), date(2026, 12, 1), UsageInput(Decimal(300), in_ccf=True), zone=ZONE)
    # 300 CCF by days: 100 CCF x 1.030 + 200 CCF x 1.060 therms at 1.00
    assert [(l.quantity, l.amount_minor) for l in quote.lines] == [(Decimal("103.000"), 10300),
                                                                   (Decimal("212.000"), 21200)]


@pytest.mark.parametrize("window", [None, 15, 30, 60])
def test_demand_over_longer_clock_windows(window):
    body = f"""
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "1.00"
  {"" if window is None else f"window_minutes = {window}"}
"""
    first = int(datetime.combine(date(2026, 3, 2), time(0), ZoneInfo(ZONE)).timestamp())
    starts = np.arange(first, first + 86400, 900, dtype=np.int64)
    values = np.full(96, 250, np.int64)  # 1 kW
    values[41] = 2000  # 10:15-10:30 at 8 kW: the 10:00 half hour holds 250 + 2000 Wh, the hour 2000 + 3 x 250
    data = IntervalData(starts, 900, values)
    quote = rate(tariff(body), date(2026, 3, 2), date(2026, 3, 3), UsageInput(intervals=data, factor=KWH), zone=ZONE)
    expected = {None: Decimal(8), 15: Decimal(8), 30: Decimal("4.5"), 60: Decimal("2.75")}[window]
    assert quote.lines[0].quantity == expected


def test_the_tariff_chooses_consumption_proration():
    t = tariff('proration = "consumption"\n' + CHANGE)
    assert t.proration == "consumption"
    data = hourly(date(2026, 4, 1), 30, lambda s: np.where(s < datetime(2026, 4, 11, tzinfo=ZoneInfo(ZONE))
                                                           .timestamp(), 2500, 0))
    quote = rate(t, date(2026, 4, 1), date(2026, 5, 1), UsageInput(intervals=data, factor=KWH), zone=ZONE)
    assert [l.quantity for l in quote.lines if l.code == "energy.tier2"] == [Decimal(500)]
    with pytest.raises(TariffInvalid):
        tariff('proration = "weekly"\n' + CHANGE)
