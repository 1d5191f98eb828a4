"""The parallel run's probable causes, on hand-made comparisons."""
from datetime import date

import pytest

from migration.parallel_run import BillComparison, LineComparison, classify

PERIOD = (date(2026, 10, 1), date(2026, 11, 1))


def bill(*lines, legacy_period=PERIOD):
    comparison = BillComparison("A1", "L1", *legacy_period, *PERIOD, 0, 0)
    comparison.lines = [LineComparison("electric", code, legacy, new, fixed) for code, legacy, new, fixed in lines]
    return comparison


@pytest.mark.parametrize("lines, legacy_period, hold, tolerance, cause", [
    ([("customer_charge", 1250, 1250, True), ("energy.tier1", 5620, 5620, False)], PERIOD, None, 0, ""),
    ([("energy.tier1", 5620, 5622, False)], PERIOD, None, 2, ""),
    ([("energy.tier1", 5620, 5620, False)], PERIOD, "missing_reads:electric:96", 0, "missing_reads"),
    ([("energy.tier1", 5620, 5620, False)], PERIOD, "blocking_exceptions:2", 0, "missing_reads"),
    ([("energy.tier1", 5620, 5600, False)], (date(2026, 10, 1), date(2026, 11, 2)), None, 0, "proration"),
    ([("energy.tier1", 5620, 5620, False), ("franchise_fee", 0, 310, True)], PERIOD, None, 0, "rate_mapping"),
    ([("customer_charge", 900, 1250, True), ("energy.tier1", 5620, 5620, False)], PERIOD, None, 0, "rate_mapping"),
    ([("energy.tier1", 5620, 5621, False), ("energy.tier2", 100, 99, False)], PERIOD, None, 0, "rounding"),
    ([("energy.tier1", 5620, 5720, False)], PERIOD, None, 0, "usage"),
    ([("energy.tier1", 5620, 5620, False)], PERIOD, "no_tariff:electric:E-X", 0, "held"),
])
def test_probable_cause(lines, legacy_period, hold, tolerance, cause):
    comparison = bill(*lines, legacy_period=legacy_period)
    classify(comparison, hold, tolerance)
    assert (comparison.matched, comparison.cause) == (cause == "", cause)
    assert bool(comparison.detail) == (cause != "")
