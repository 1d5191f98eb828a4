"""Bill runs give look-back charges their history: demand ratchets and sewer on winter average."""
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from billing.bill_run import find_period, run_bill_run
from simulators.utility import Account, Meter, Utility
from storage.bulk_load import ensure_period, load_directory
from storage.tariffs import current_tariffs, publish
from meterdata.codec import Block, encode_binary
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration
HEADER = 'currency = "USD"\n'
RATCHET = HEADER + '''code = "E-DEM"
service = "electric"
billing_unit = "kWh"
[[versions]]
effective_from = "2025-01-01"
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10.00"
  ratchet_percent = "80"
  ratchet_months = 11
'''
SEWER = HEADER + '''code = "W-SEW"
service = "water"
billing_unit = "kgal"
[[versions]]
effective_from = "2025-01-01"
  [[versions.charges]]
  kind = "tiered"
  code = "water"
  tiers = [{ price = "4.00" }]
  [[versions.charges]]
  kind = "tiered"
  code = "sewer"
  basis = "winter_average"
  tiers = [{ price = "6.00" }]
'''


def day_block(meter: Meter, zone: str, day: date, values, channel: int = 1) -> RawMessage:
    start = int(datetime.combine(day, time(0), ZoneInfo(zone)).timestamp())
    values = np.asarray(values, dtype=np.int64)
    return RawMessage(encode_binary(Block(meter.meter_no, channel, start, meter.interval_s, values,
                                          np.zeros(len(values), np.uint8))))


def setup(settings, tariff_text: str, meter: Meter, periods: list[tuple[date, date]]):
    conn = psycopg.connect(settings.database_url, autocommit=True)
    publish(conn, tariff_text)
    utility = Utility(settings.utility_zone, f"C-{meter.tariff_code}", periods[0][0], periods[0][1],
                      [Account(meter.account_no, "Customer", "1 Test St", (meter.service,))], [meter])
    ids = load_directory(conn, utility)
    for start, end in periods[1:]:
        ensure_period(conn, ids["billing_cycle_id"], start, end)
    conn.execute("update service_agreements set start_date = %s", (date(2025, 1, 1),))
    conn.execute("update meter_installations set installed_at = %s", (datetime(2025, 1, 1, tzinfo=timezone.utc),))
    conn.execute("update tariff_assignments set effective_from = %s", (date(2025, 1, 1),))
    return conn


def test_a_demand_ratchet_bills_80_percent_of_the_last_peak(settings):
    meter = Meter("E9000001", "A9000001", "electric", "Wh", 0, 900, 40_000, "E-DEM", 1.0)
    periods = [(date(2026, 1, 1), date(2026, 2, 1)), (date(2026, 2, 1), date(2026, 3, 1))]
    conn = setup(settings, RATCHET, meter, periods)
    processor = BatchProcessor(settings, conn, cache=None)
    january = [np.full(96, 250) for _ in range(31)]
    january[10][40:44] = 5000  # an hour at 20 kW (several intervals: a real peak, not a spike)
    messages = [day_block(meter, settings.utility_zone, date(2026, 1, 1) + timedelta(days=d), v)
                for d, v in enumerate(january)]
    messages += [day_block(meter, settings.utility_zone, date(2026, 2, 1) + timedelta(days=d), np.full(96, 250))
                 for d in range(28)]
    processor.process(messages)
    tariffs = current_tariffs(conn)
    for _ in periods:
        run_bill_run(conn, find_period(conn, "C-E-DEM"), tariffs)
    lines = conn.execute("select b.period_start, l.quantity, l.amount_minor, l.description from bill_lines l "
                         "join bills b on b.id = l.bill_id order by b.period_start").fetchall()
    assert [(l[0], l[1], l[2]) for l in lines] == [(date(2026, 1, 1), Decimal(20), 20000),
                                                   (date(2026, 2, 1), Decimal(16), 16000)]
    assert "ratchet" in lines[1][3]
    conn.close()


def test_sewer_is_billed_on_last_winters_average(settings):
    meter = Meter("W9000001", "A9000002", "water", "gal", -1, 3600, 10_000, "W-SEW", 1.0)
    periods = [(date(2026, 7, 1), date(2026, 8, 1))]
    conn = setup(settings, SEWER, meter, periods)
    processor = BatchProcessor(settings, conn, cache=None)
    zone = settings.utility_zone
    winter = [day_block(meter, zone, date(2026, 1, 5) + timedelta(days=d), np.full(24, 416)) for d in range(10)]
    summer = [day_block(meter, zone, date(2026, 7, 1) + timedelta(days=d), np.full(24, 1000)) for d in range(31)]
    processor.process(winter + summer)
    run_bill_run(conn, find_period(conn, "C-W-SEW"), current_tariffs(conn))
    lines = dict(conn.execute("select code, quantity from bill_lines").fetchall())
    winter_daily = Decimal(24 * 416) / 10 / 1000  # kgal a day over the winter days with use
    assert lines["water.tier1"] == Decimal(31 * 24 * 100) / 1000  # 74.4 kgal in July
    assert lines["sewer.tier1"] == winter_daily * 31  # the winter average, below July's use
    conn.close()


NET_BILLING = HEADER + '''code = "E-NEM"
service = "electric"
billing_unit = "kWh"
[[versions]]
effective_from = "2025-01-01"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ price = "0.12" }]
  [[versions.charges]]
  kind = "export_credit"
  code = "export"
  basis = "interval_net"
  price = "0.04"
'''


def test_a_solar_customers_export_is_credited_per_interval(settings):
    meter = Meter("E9000003", "A9000003", "electric", "Wh", 0, 900, 40_000, "E-NEM", 1.0)
    periods = [(date(2026, 6, 1), date(2026, 7, 1))]
    conn = setup(settings, NET_BILLING, meter, periods)
    processor = BatchProcessor(settings, conn, cache=None)
    zone = settings.utility_zone
    imported = np.full(96, 250)  # 1 kW all day
    exported = np.zeros(96, np.int64)
    exported[40:64] = 1000  # 10:00-16:00 sending 4 kW to the grid
    messages = []
    for d in range(30):
        day = date(2026, 6, 1) + timedelta(days=d)
        messages += [day_block(meter, zone, day, imported), day_block(meter, zone, day, exported, channel=2)]
    processor.process(messages)
    run_bill_run(conn, find_period(conn, "C-E-NEM"), current_tariffs(conn))
    lines = {code: (quantity, amount) for code, quantity, amount in conn.execute(
        "select code, quantity, amount_minor from bill_lines")}
    assert lines["energy.tier1"] == (Decimal(720), 8640)  # 24 kWh a day delivered
    # net export per interval: (1000 - 250) Wh x 24 intervals x 30 days = 540 kWh at 0.04
    assert lines["export"] == (Decimal(540), -2160)
    conn.close()


HALF_HOUR_DEMAND = HEADER + '''code = "E-D30"
service = "electric"
billing_unit = "kWh"
[[versions]]
effective_from = "2025-01-01"
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10.00"
  window_minutes = 30
'''


def test_running_estimate_of_a_half_hour_demand_tariff_reads_the_intervals(settings):
    from storage.cache import EstimateCache

    meter = Meter("E9000004", "A9000004", "electric", "Wh", 0, 900, 40_000, "E-D30", 1.0)
    conn = setup(settings, HALF_HOUR_DEMAND, meter, [(date(2026, 3, 1), date(2026, 4, 1))])
    cache = EstimateCache.for_database(settings.redis_url, conn)
    processor = BatchProcessor(settings, conn, cache)
    values = np.full(96, 250)
    values[41] = 2000  # 10:15: the 10:00 half hour holds 2,250 Wh = 4.5 kW
    processor.process([day_block(meter, settings.utility_zone, date(2026, 3, 2), values)])
    account_id = conn.execute("select id from accounts where account_no = 'A9000004'").fetchone()[0]
    body = cache.read(account_id)
    lines = {line["code"]: line for line in body["services"][0]["bill_to_date_lines"]}
    assert Decimal(lines["demand"]["quantity"]) == Decimal("4.5")
    conn.close()


POWER_FACTOR = HEADER + '''code = "E-PF"
service = "electric"
billing_unit = "kWh"
[[versions]]
effective_from = "2025-01-01"
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "10.00"
  power_factor_target = "0.90"
'''


def test_power_factor_adjustment_uses_the_reactive_channel(settings):
    meter = Meter("E9000005", "A9000005", "electric", "Wh", 0, 900, 40_000, "E-PF", 1.0)
    conn = setup(settings, POWER_FACTOR, meter, [(date(2026, 5, 1), date(2026, 6, 1))])
    processor = BatchProcessor(settings, conn, cache=None)
    messages = []
    for d in range(31):
        day = date(2026, 5, 1) + timedelta(days=d)
        messages += [day_block(meter, settings.utility_zone, day, np.full(96, 5000)),  # 20 kW
                     day_block(meter, settings.utility_zone, day, np.full(96, 3750), channel=3)]  # 15 kvar
    processor.process(messages)
    run_bill_run(conn, find_period(conn, "C-E-PF"), current_tariffs(conn))
    quantity, amount, description = conn.execute("select quantity, amount_minor, description from bill_lines").fetchone()
    # power factor 20 / 25 = 0.8 below 0.90: 20 kW x 0.90 / 0.8 = 22.5 kW
    assert (quantity, amount) == (Decimal("22.5"), 22500) and "power factor" in description
    conn.close()
