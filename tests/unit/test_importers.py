"""URDB and OWRS files convert to the project's tariffs and price as their rate sheets say."""
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from rating.errors import TariffInvalid
from rating.importers import document_from_text, load_tariff
from rating.pricing import UsageInput, rate
from rating.tariff import parse_tariff
from rating.toml_out import dumps
from rating.usage import IntervalData

DATA = Path(__file__).parent / "data"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "tariffs"
ZONE = "America/Denver"


def cents(quote):
    return {line.code: line.amount_minor for line in quote.lines}


def test_urdb_time_of_use_with_adjustments_minimum_and_flat_demand():
    tariff = load_tariff((DATA / "urdb_tou.json").read_text(), "urdb_tou.json")
    assert tariff.code == "URDB-TESTRATE0001" and tariff.versions[0].effective_from == date(2026, 1, 1)
    first = int(datetime.combine(date(2026, 3, 2), time(0), ZoneInfo(ZONE)).timestamp())  # a Monday
    starts = np.arange(first, first + 86400, 3600, dtype=np.int64)
    data = IntervalData(starts, 3600, np.full(24, 1000, np.int64))  # 1 kWh an hour
    quote = rate(tariff, date(2026, 3, 2), date(2026, 3, 3), UsageInput(intervals=data, factor=Decimal("0.001")),
                 zone=ZONE)
    # one day of a 1-day period: 19 kWh at 0.08 (+0.01), 5 kWh on-peak at 0.20 (+0.02); 1 kW x 4.50
    assert cents(quote) == {"customer_charge": 750, "energy.period_0": 152, "energy.period_1": 100,
                            "energy_adjustments.period_0": 19, "energy_adjustments.period_1": 10,
                            "demand_0": 450, "minimum_bill": 2000 - 1481}  # the minimum bill tops up to 20.00
    low = rate(tariff, date(2026, 3, 2), date(2026, 3, 3),
               UsageInput(intervals=IntervalData(starts, 3600, np.zeros(24, np.int64)), factor=Decimal("0.001")),
               zone=ZONE)
    assert cents(low)["minimum_bill"] == 2000 - 750


def test_owrs_classes_meter_sizes_tiers_and_surcharge():
    tariff = load_tariff((DATA / "owrs_tiers.owrs").read_text(), "owrs_tiers.owrs")
    assert (tariff.service, tariff.billing_unit, tariff.versions[0].effective_from) == ("water", "CCF",
                                                                                       date(2026, 7, 1))
    period = (date(2026, 7, 1), date(2026, 8, 1))
    home = rate(tariff, *period, UsageInput(Decimal(25)), zone=ZONE,
                attributes={"customer_class": "RESIDENTIAL_SINGLE", "meter_size": '3/4"'})
    assert cents(home) == {"residential_single.service_charge": 2050,
                           "residential_single.commodity.tier1": 2480,  # 8 x 3.10
                           "residential_single.commodity.tier2": 5100,  # 12 x 4.25
                           "residential_single.commodity.tier3": 3000,  # 5 x 6.00
                           "residential_single.variable_drought_surcharge": 1250}  # 25 x 0.50
    shop = rate(tariff, *period, UsageInput(Decimal(10)), zone=ZONE, attributes={"customer_class": "COMMERCIAL"})
    assert cents(shop) == {"commercial.service_charge": 4500, "commercial.commodity.tier1": 4750}


def test_converted_documents_round_trip_through_toml():
    for path in (DATA / "urdb_tou.json", DATA / "owrs_tiers.owrs"):
        document = document_from_text(path.read_text(), path.name)
        assert parse_tariff(dumps(document)) == load_tariff(path.read_text(), path.name)


def test_import_problems_are_listed_with_paths():
    bad = (DATA / "owrs_tiers.owrs").read_text().replace("07/01/2026", "someday").replace(
        "commodity_charge: flat_rate_commodity*usage_ccf", "commodity_charge: Budget")
    with pytest.raises(TariffInvalid) as raised:
        load_tariff(bad, "bad.owrs")
    assert {(p.path, p.code) for p in raised.value.problems} == {
        ("metadata.effective_date", "not_a_date"), ("rate_structure.COMMERCIAL.commodity_charge", "unsupported")}


@pytest.mark.skipif(not SAMPLES.exists(), reason="the shared real-world samples are not beside this checkout")
def test_real_world_samples_import():
    xcel = load_tariff((SAMPLES / "urdb_618940545457a35a1c4097ec_xcel_colorado_RE-TOU.json").read_text(), "x.json")
    assert len(xcel.versions[0].calendar.periods) == 5
    for name in ("owrs_hillsborough_town_of_2018-01-01.owrs", "owrs_south_tahoe_pud_2017-07-01.owrs"):
        tariff = load_tariff((SAMPLES / name).read_text(), name)
        quote = rate(tariff, date(2026, 1, 1), date(2026, 2, 1), UsageInput(Decimal(12)), zone=ZONE,
                     attributes={"customer_class": "RESIDENTIAL_SINGLE", "meter_size": '3/4"'})
        assert quote.total_minor > 0
