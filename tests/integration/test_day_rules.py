"""Day rules on simulator output with known injected faults: every spike and leak is flagged by the
right rule, and clean days raise none; the meter's own history and thresholds set by staff."""
import numpy as np
import psycopg
import pytest

from simulators.headend import FaultPlan, Truth, generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


def october_utility(zone: str, cycle: str, meters: list):
    """A utility of the given meters, each on an account of its own, billed in October 2026."""
    from datetime import date

    from simulators.utility import Account, Utility

    return Utility(zone, cycle, date(2026, 10, 1), date(2026, 11, 1),
                   [Account(m.account_no, "Customer", f"{m.meter_no} Rd", (m.service,)) for m in meters], meters)


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
        # the high-against-history rule sees the same injected spikes (once the meter has two like
        # days of history) and nothing else
        on_spike_days, history = conn.execute(
            "select count(*) filter (where exists (select 1 from vee_exceptions s where s.meter_id = h.meter_id "
            "and s.block_start = h.block_start and s.day_rule = 'spike')), count(*) from vee_exceptions h "
            "where h.day_rule = 'high_history'").fetchone()
    assert history == on_spike_days == found.pop("high_history") > 0
    severities.pop("high_history")
    assert truth.faults["day_spike"] > 5 and truth.faults["leak"] > 5
    assert found == {"spike": truth.faults["day_spike"], "continuous_flow": truth.faults["leak"]}
    assert severities == {"spike": "blocks_billing", "continuous_flow": "information"}
    meter_days = len(utility.meters) * days
    false_positives = sum(found.values()) - truth.faults["day_spike"] - truth.faults["leak"]
    assert false_positives == 0, f"{false_positives} of {meter_days} meter-days"


def test_day_rule_kernels_agree_with_the_reference():
    from vee import days as vee_day

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
        assert vee_day.check_days(*args).tolist() == vee_day.check_days_reference(*args).tolist()


def test_zero_consumption_is_flagged_only_where_the_premise_was_occupied(settings):
    from datetime import date, timedelta

    from simulators.utility import Meter
    from tests.integration.test_lookback_charges import day_block

    zone = settings.utility_zone
    occupied = Meter("E9200001", "A9200001", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    vacant = Meter("E9200002", "A9200002", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    utility = october_utility(zone, "C-ZERO", [occupied, vacant])
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


def test_thresholds_set_by_staff_apply_by_meter_class_from_their_day(settings, monkeypatch):
    from datetime import date
    from zoneinfo import ZoneInfo

    from meter2cash.cli import main
    from simulators.utility import Meter
    from tests.integration.test_lookback_charges import day_block

    zone = settings.utility_zone
    home = Meter("E9300001", "A9300001", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    shop = Meter("E9300002", "A9300002", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    utility = october_utility(zone, "C-THR", [home, shop])
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        conn.execute("update meters set meter_class = 'commercial' where meter_no = %s", (shop.meter_no,))
    # commercial meters see bursts: their spikes need 20 x the third largest, from Oct 10
    assert main(["vee", "thresholds", "set", "electric", "spike_ratio", "20", "--class", "commercial",
                 "--from", "2026-10-10", "--why", "machines start at 7"]) == 0
    assert main(["vee", "thresholds", "set", "electric", "spike_ratio", "x", "--from", "2026-10-10",
                 "--why", "typo"]) == 2
    burst = np.full(96, 200)
    burst[30] = 200 * 10  # 10 x the rest: a spike under the default ratio (6), not under 20
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        processor = BatchProcessor(settings, conn, cache=None)
        processor.process([day_block(m, zone, day, burst) for m in (home, shop)
                           for day in (date(2026, 10, 5), date(2026, 10, 12))])
        found = sorted((meter, start.astimezone(ZoneInfo(zone)).date()) for meter, start in conn.execute(
            "select meter_no, block_start from vee_exceptions where day_rule = 'spike'").fetchall())
    # the home meter both days; the shop meter only before its class's threshold took effect
    assert found == [(home.meter_no, date(2026, 10, 5)), (home.meter_no, date(2026, 10, 12)),
                     (shop.meter_no, date(2026, 10, 5))]



def test_hard_limits_by_meter_class_from_their_day(settings):
    from datetime import date
    from zoneinfo import ZoneInfo

    from simulators.utility import Meter
    from storage.vee_thresholds import set_threshold
    from tests.integration.test_lookback_charges import day_block

    zone = settings.utility_zone
    small = Meter("W9400001", "A9400001", "water", "gal", -1, 900, 6_000, "W-RES", 1.0)
    utility = october_utility(zone, "C-LIM", [small])
    day_of = np.full(96, 10)
    day_of[:20] = 0  # no use at night (no continuous flow)
    day_of[40] = 1_000  # 1,000 x 0.1 gal in 15 minutes: under the meter's own limit (6,000 an hour)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        conn.execute("update meters set meter_class = '5/8in' where meter_no = %s", (small.meter_no,))
        # a 5/8-inch meter cannot pass more than 2,000 x 0.1 gal an hour: from Oct 10
        set_threshold(conn, "water", "5/8in", "high_per_hour", 2000, date(2026, 10, 10), "tester", "meter size")
        BatchProcessor(settings, conn, cache=None).process(
            [day_block(small, zone, day, day_of) for day in (date(2026, 10, 5), date(2026, 10, 12))])
        flagged = [(r[0].astimezone(ZoneInfo(zone)).date(), r[1]) for r in conn.execute(
            "select block_start, rules from vee_exceptions order by block_start").fetchall()]
        stored = conn.execute("select local_day, read_count from usage_daily order by 1").fetchall()
    assert flagged == [(date(2026, 10, 12), ["high"])]
    assert stored == [(date(2026, 10, 5), 96), (date(2026, 10, 12), 95)]
