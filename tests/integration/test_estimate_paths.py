"""One running-estimate path: the body the streams worker writes to Redis for an account equals the body
a reader computes from PostgreSQL when the cache is cold, for random usage on every built-in tariff
(tiered electric, time of use + demand, gas, water) and on a time-of-use + demand tariff whose prices
change in the middle of the period."""
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from billing.estimate import account_estimate
from meterdata.codec import Block, encode_binary
from simulators.utility import Account, Meter, Utility
from storage.bulk_load import load_directory
from storage.cache import EstimateCache
from storage.tariffs import current_tariffs, publish
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration
PERIOD = (date(2026, 3, 1), date(2026, 4, 1))  # the clocks change on 8 March in Chicago
RATE_CHANGE = date(2026, 3, 16)
METERS = [
    Meter("E7000001", "A7000001", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0),
    Meter("E7000002", "A7000002", "electric", "Wh", 0, 900, 48_000, "E-TOU", 1.0),
    Meter("G7000003", "A7000003", "gas", "ft3", -1, 3600, 4_000, "G-RES", 1.0),
    Meter("W7000004", "A7000004", "water", "gal", -1, 3600, 6_000, "W-RES", 1.0),
    Meter("E7000005", "A7000005", "electric", "Wh", 0, 900, 48_000, "E-TOU-RC", 1.0),
]


def rate_change_tariff() -> str:
    """E-TOU with a second version from the middle of the period: dearer on-peak energy and demand."""
    text = resources.files("rating.tariffs").joinpath("electric_tou.toml").read_text()
    text = text.replace('code = "E-TOU"', 'code = "E-TOU-RC"')
    second = text[text.index("[[versions]]"):].replace('effective_from = "2026-01-01"',
                                                       f'effective_from = "{RATE_CHANGE.isoformat()}"')
    second = second.replace('on_peak = "0.2410"', 'on_peak = "0.3120"').replace('price = "2.50"', 'price = "3.75"')
    return text + "\n" + second


@pytest.fixture
def utility(settings):
    conn = psycopg.connect(settings.database_url, autocommit=True)
    publish(conn, rate_change_tariff())
    accounts = [Account(m.account_no, f"Customer {m.account_no}", "1 Test St", (m.service,)) for m in METERS]
    load_directory(conn, Utility(settings.utility_zone, "C-EST", PERIOD[0], PERIOD[1], accounts, METERS))
    conn.execute("update service_agreements set start_date = %s", (date(2026, 1, 1),))
    conn.execute("update tariff_assignments set effective_from = %s", (date(2026, 1, 1),))
    ids = dict(conn.execute("select account_no, id from accounts").fetchall())
    cache = EstimateCache.for_database(settings.redis_url, conn)
    processor = BatchProcessor(settings, conn, cache=cache)
    yield conn, processor, cache, ids
    conn.close()


def day_block(meter: Meter, zone: str, day: date, rng: np.random.Generator) -> RawMessage:
    start = datetime.combine(day, time(0), ZoneInfo(zone))
    end = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))
    slots = int((end.timestamp() - start.timestamp()) // meter.interval_s)
    ceiling = meter.expected_high_per_hour * meter.interval_s // 3600 // 2
    values = rng.integers(1, ceiling, slots).astype(np.int64)
    return RawMessage(encode_binary(Block(meter.meter_no, 1, int(start.timestamp()), meter.interval_s, values,
                                          np.zeros(slots, np.uint8))))


def without_moment(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "as_of"}


@hypothesis_settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(st.tuples(st.integers(0, len(METERS) - 1), st.integers(0, 30), st.integers(0, 2 ** 32)),
                     min_size=1, max_size=12))
def test_the_streamed_estimate_equals_the_cold_cache_estimate(utility, settings, days):
    conn, processor, cache, ids = utility
    messages = [day_block(METERS[m], settings.utility_zone, PERIOD[0] + timedelta(days=d), np.random.default_rng(s))
                for m, d, s in days]
    processor.process(messages)
    tariffs = current_tariffs(conn)
    as_of = datetime.now(timezone.utc)
    for meter in {METERS[m] for m, _, _ in days}:
        account_id = ids[meter.account_no]
        streamed = cache.read(account_id)
        cold = account_estimate(conn, account_id, tariffs, as_of)
        assert streamed is not None and cold is not None, meter.meter_no
        assert cold["bill_to_date_minor"] > 0 and all("error" not in s for s in cold["services"]), cold
        assert without_moment(streamed) == without_moment(cold), meter.meter_no
