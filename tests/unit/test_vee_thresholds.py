"""VEE thresholds by service, meter class and effective date; the history rule's kernel."""
from datetime import date
from decimal import Decimal

import numpy as np

from vee import history
from vee.rules import HIGH_HISTORY, LOW_HISTORY, SPIKE_RATIO
from vee.thresholds import Thresholds


def test_most_specific_value_in_force_on_the_day():
    thresholds = Thresholds([
        ("electric", None, "spike_ratio", Decimal("8"), date(2026, 11, 1)),
        ("electric", "commercial", "spike_ratio", Decimal("12"), date(2026, 11, 10)),
        ("electric", "commercial", "spike_ratio", Decimal("10"), date(2026, 12, 1)),
        ("water", None, "zero_run_hours", Decimal("24"), date(2026, 1, 1)),
    ])
    value = thresholds.value
    assert value("electric", None, "spike_ratio", date(2026, 10, 31)) == SPIKE_RATIO  # before: the default
    assert value("electric", None, "spike_ratio", date(2026, 11, 1)) == 8
    assert value("electric", "commercial", "spike_ratio", date(2026, 11, 5)) == 8  # the class's not yet in force
    assert value("electric", "commercial", "spike_ratio", date(2026, 11, 10)) == 12
    assert value("electric", "commercial", "spike_ratio", date(2026, 12, 24)) == 10
    assert value("electric", "residential", "spike_ratio", date(2026, 12, 24)) == 8
    assert value("gas", None, "spike_ratio", date(2026, 12, 24)) == SPIKE_RATIO
    assert value("water", None, "zero_run_hours", date(2026, 6, 1)) == 24
    assert value("electric", None, "zero_run_hours", date(2026, 6, 1)) == 12  # the service's default
    assert value("gas", None, "zero_run_hours", date(2026, 6, 1)) == 0  # off


def test_history_kernel_agrees_with_the_reference():
    rng = np.random.default_rng(9)
    for _ in range(200):
        rows = int(rng.integers(1, 20))
        like = rng.integers(0, 500, (rows, 4, 24))
        days = rng.integers(0, 5, rows)
        hourly = rng.integers(0, 3000, (rows, 24))
        factor = rng.uniform(1, 6, rows)
        floor = rng.uniform(0, 30, rows)
        low = rng.uniform(0, 1, rows)
        hourly[rng.random(rows) < 0.3] //= 50  # some quiet days
        got = history.check_history(hourly, like, days, factor, floor, low)
        expected = history.check_history_reference(hourly, like, days, factor, floor, low)
        assert got[0].tolist() == expected[0].tolist()
        assert got[1].tolist() == expected[1].tolist()


def test_history_rule_needs_two_like_days_and_looks_per_hour():
    like = np.zeros((3, 4, 24), np.int64)
    like[:, :3] = 100  # three like days of 100 an hour
    hourly = np.full((3, 24), 100)
    hourly[0, 18] = 500  # 5 x the most that hour used: above 4 x 100 + 50
    hourly[1, 18] = 440  # below 4 x 100 + 50
    hourly[2, 18] = 5000
    flags, hot = history.check_history(hourly, like, np.array([3, 3, 1]), np.full(3, 4.0), np.full(3, 50.0))
    assert flags.tolist() == [HIGH_HISTORY, 0, 0]  # the third row has one like day only
    assert np.flatnonzero(hot[0]).tolist() == [18]
    quiet = np.full((3, 24), 100)
    quiet[0] = 5  # 120 in the day, under a tenth of the like days' 2,400
    flags, _ = history.check_history(quiet, like, np.array([3, 3, 3]), np.full(3, 4.0), np.full(3, 50.0),
                                     np.full(3, 0.1))
    assert flags.tolist() == [LOW_HISTORY, 0, 0]
