"""A proposed tariff's impact on the stored usage: every agreement on the tariff in force, priced for a
period under the current and the proposed tariff (``rating.impact``), with the distribution of bill
changes as a histogram. The command line (``m2c rate impact``) and the staff workspace both use it."""
from __future__ import annotations

from datetime import date
from typing import Callable

import numpy as np
import psycopg

from rating.impact import Customer, ImpactReport, impact
from rating.pricing import UsageInput
from rating.tariff import Tariff
from rating.units import unit_factor
from rating.usage import IntervalData
from storage.usage import assigned_agreements, intervals_for


def stored_impact(conn: psycopg.Connection, current: Tariff, proposed: Tariff, start: date, end: date, zone: str,
                  top: int = 10, progress: Callable[[str], None] = lambda stage: None) -> ImpactReport:
    progress("reading the stored usage")
    agreements = assigned_agreements(conn, current.code, start)
    stored = intervals_for(conn, agreements, start, end)
    customers = []
    for agreement in stored:
        factor, in_ccf = unit_factor(agreement.power_of_ten, agreement.unit, current.billing_unit)
        data = IntervalData(agreement.starts, agreement.interval_s, agreement.values, agreement.exported)
        customers.append(Customer(f"{agreement.account_no}/{agreement.service_agreement_id}",
                                  UsageInput(intervals=data, factor=factor, in_ccf=in_ccf), {}))
    progress(f"pricing {len(customers):,} agreements twice")
    return impact(current, proposed, start, end, customers, zone, top=top)


def histogram(report: ImpactReport, bins: int = 12) -> list[dict]:
    """How many bills change by how much (percent), in ``bins`` equal ranges."""
    percents = np.array(report.percents, dtype=np.float64) if report.percents else np.array([])
    if not len(percents):
        return []
    low, high = float(percents.min()), float(percents.max())
    if low == high:
        return [{"from_percent": round(low, 2), "to_percent": round(high, 2), "bills": int(len(percents))}]
    counts, edges = np.histogram(percents, bins=bins, range=(low, high))
    return [{"from_percent": round(float(edges[k]), 2), "to_percent": round(float(edges[k + 1]), 2),
             "bills": int(counts[k])} for k in range(bins)]
