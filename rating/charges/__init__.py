"""One module per charge concept, each behind the :class:`Charge` interface."""
from __future__ import annotations

from rating.charges.base import Charge, History, Line, Usage
from rating.charges.demand import DemandCharge
from rating.charges.export_credit import ExportCreditCharge
from rating.charges.fixed import FixedCharge
from rating.charges.limits import LimitCharge
from rating.charges.rider import RiderCharge
from rating.charges.tiered import TieredCharge
from rating.charges.tou_energy import TouEnergyCharge

# kind -> reader of a charge table (reader, table, path) -> charge or None
CHARGE_KINDS = {
    "fixed": FixedCharge.from_table,
    "tiered": TieredCharge.from_table,
    "tou_energy": TouEnergyCharge.from_table,
    "demand": DemandCharge.from_table,
    "rider": RiderCharge.from_table,
    "minimum": LimitCharge.reader_for(minimum=True),
    "maximum": LimitCharge.reader_for(minimum=False),
    "export_credit": ExportCreditCharge.from_table,
}

__all__ = ["CHARGE_KINDS", "Charge", "DemandCharge", "ExportCreditCharge", "FixedCharge", "History", "Line",
           "LimitCharge", "RiderCharge", "TieredCharge", "TouEnergyCharge", "Usage"]
