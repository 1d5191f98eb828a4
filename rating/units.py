"""Meter quantities (integers scaled by a power of ten) to a tariff's billing unit, exactly."""
from __future__ import annotations

from decimal import Decimal

from rating.errors import UnitMismatch

# (meter unit, billing unit) -> factor; only exact conversions are listed
_FACTORS = {
    ("Wh", "Wh"): Decimal(1),
    ("Wh", "kWh"): Decimal("0.001"),
    ("gal", "gal"): Decimal(1),
    ("gal", "kgal"): Decimal("0.001"),
    ("ft3", "ft3"): Decimal(1),
    ("ft3", "CCF"): Decimal("0.01"),
}


def to_billing_unit(quantity: int, power_of_ten: int, meter_unit: str, billing_unit: str,
                    therms_per_ccf: Decimal | None = None) -> Decimal:
    """``quantity`` x 10^``power_of_ten`` ``meter_unit`` expressed in ``billing_unit``.

    Therms are volume (CCF) times the heating value in force for the period.
    """
    if billing_unit == "therm" and therms_per_ccf is None:
        raise UnitMismatch("billing in therms needs the tariff's therms_per_ccf")
    factor, in_ccf = unit_factor(power_of_ten, meter_unit, billing_unit)
    quantity_in_unit = Decimal(quantity) * factor
    return quantity_in_unit * therms_per_ccf if in_ccf else quantity_in_unit


def unit_factor(power_of_ten: int, meter_unit: str, billing_unit: str) -> tuple[Decimal, bool]:
    """(factor, in_ccf): stored integers x factor are in the billing unit, or, for a tariff billed in
    therms, in CCF (``in_ccf``) for the rating engine to convert with each version's heating value."""
    target = "CCF" if billing_unit == "therm" else billing_unit
    factor = _FACTORS.get((meter_unit, target))
    if factor is None:
        raise UnitMismatch(f"no exact conversion from {meter_unit} to {target}")
    return factor.scaleb(power_of_ten), billing_unit == "therm"
