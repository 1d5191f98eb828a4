"""Day rules on simulator output with known injected faults: every spike and leak is flagged by the
right rule, and clean days raise none."""
import numpy as np
import psycopg
import pytest

from simulators.headend import FaultPlan, Truth, generate
from simulators.utility import make_utility
from storage.directory import load_directory
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


def test_injected_day_spikes_and_leaks_are_flagged_and_clean_days_are_not(settings):
    utility = make_utility(meters=40, seed=12, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        processor = BatchProcessor(settings, conn, cache=None)
        truth = Truth()
        messages = [RawMessage(m.value) for m in generate(utility, block_hours=6, truth=truth,
                                                         faults=FaultPlan(day_spike=0.05, leak=0.1))]
        for start in range(0, len(messages), 400):
            processor.process(messages[start:start + 400])
        found = dict(conn.execute("select day_rule, count(*) from vee_exceptions where day_rule is not null "
                                  "group by 1").fetchall())
        severities = dict(conn.execute("select day_rule, min(severity) from vee_exceptions "
                                       "where day_rule is not null group by 1").fetchall())
        days = (utility.period_end - utility.period_start).days
    assert truth.faults["day_spike"] > 5 and truth.faults["leak"] > 5
    assert found == {"spike": truth.faults["day_spike"], "continuous_flow": truth.faults["leak"]}
    assert severities == {"spike": "blocks_billing", "continuous_flow": "information"}
    meter_days = len(utility.meters) * days
    false_positives = sum(found.values()) - truth.faults["day_spike"] - truth.faults["leak"]
    assert false_positives == 0, f"{false_positives} of {meter_days} meter-days"


def test_day_rule_kernels_agree_with_the_reference():
    from streams import vee_day, vee_reference

    rng = np.random.default_rng(5)
    for _ in range(200):
        rows = int(rng.integers(1, 30))
        values = rng.integers(-5, 50, (rows, 100))
        values[rng.random((rows, 100)) < 0.02] = rng.integers(200, 2000)
        present = rng.random((rows, 100)) < 0.95
        hourly = rng.integers(0, 3, (rows, 24))
        values[rng.random((rows, 100)) < 0.3] = 0
        args = (values, present, hourly, rng.random(rows) < 0.8, rng.random(rows) < 0.5, rng.random(rows) < 0.7,
                6.0, rng.integers(0, 100, rows), rng.choice([0, 2, 4, 48], rows))
        assert vee_day.check_days(*args).tolist() == vee_reference.check_days(*args).tolist()


def test_zero_consumption_is_flagged_only_where_the_premise_was_occupied(settings):
    from datetime import date, timedelta

    from simulators.utility import Account, Meter, Utility
    from tests.integration.test_lookback_charges import day_block

    zone = settings.utility_zone
    occupied = Meter("E9200001", "A9200001", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    vacant = Meter("E9200002", "A9200002", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    utility = Utility(zone, "C-ZERO", date(2026, 10, 1), date(2026, 11, 1),
                      [Account(m.account_no, "Customer", f"{m.meter_no} Rd", ("electric",)) for m in (occupied, vacant)],
                      [occupied, vacant])
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        processor = BatchProcessor(settings, conn, cache=None)
        week = [day_block(occupied, zone, date(2026, 10, 1) + timedelta(days=d), np.full(96, 300)) for d in range(7)]
        stopped = np.full(96, 300)
        stopped[20:72] = 0  # 13 hours of nothing
        processor.process(week + [day_block(occupied, zone, date(2026, 10, 8), stopped),
                                  day_block(vacant, zone, date(2026, 10, 8), np.zeros(96))])
        found = conn.execute("select meter_no, rules, severity, flagged_count from vee_exceptions").fetchall()
    assert found == [(occupied.meter_no, ["zero_consumption"], "issue", 0)]
