"""``m2c migrate make-extract DIR``: a legacy extract of a simulated utility whose legacy bills are
priced by the rating engine from the packaged tariffs (the legacy system's own arithmetic, as far as
it agrees with ours), with the deliberate discrepancies of :mod:`simulators.legacy`."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources

from rating.money import MINOR_UNITS
from rating.pricing import UsageInput, rate
from rating.tariff import parse_tariff
from rating.units import unit_factor
from simulators.legacy import Planted, write_extract


def packaged_tariffs() -> dict:
    folder = resources.files("rating.tariffs")
    tariffs = [parse_tariff(p.read_text(), p.name) for p in folder.iterdir() if p.name.endswith(".toml")]
    return {t.code: t for t in tariffs}


def legacy_pricer(zone: str):
    tariffs = packaged_tariffs()

    def price(service: str, code: str, start: date, end: date, quantity: int, unit: str, power: int):
        tariff = tariffs[code]
        factor, in_ccf = unit_factor(power, unit, tariff.billing_unit)
        quote = rate(tariff, start, end, UsageInput(Decimal(quantity) * factor, in_ccf=in_ccf), zone=zone)
        return [(line.code, line.description, Decimal(line.amount_minor).scaleb(-MINOR_UNITS[tariff.currency]))
                for line in quote.lines]

    return price


def make_extract(folder: str, meters: int = 30, seed: int = 21, cycle_code: str = "BC01",
                 zone: str = "America/Chicago", periods: int = 3, discrepancies: int = 2,
                 problems: bool = False) -> Planted:
    return write_extract(folder, legacy_pricer(zone), meters=meters, seed=seed, cycle_code=cycle_code, zone=zone,
                         period_count=periods, discrepancies=discrepancies, problems=problems)
