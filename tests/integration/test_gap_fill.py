"""Missing reads are estimated before billing; an actual read arriving later replaces the estimate."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from simulators.utility import Account, Meter, Utility
from storage.bulk_load import load_directory
from meterdata.codec import Block, encode_binary
from vee.estimation import LIKE_DAY, LINEAR
from vee.gap_fill import fill_missing_reads, fill_period
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


def block(meter, zone, day, first_slot, values):
    start = int(datetime.combine(day, time(0), ZoneInfo(zone)).timestamp()) + first_slot * meter.interval_s
    values = np.asarray(values, np.int64)
    return RawMessage(encode_binary(Block(meter.meter_no, 1, start, meter.interval_s, values,
                                          np.zeros(len(values), np.uint8))))


def one_meter(settings, number: int, cycle: str, period_start: date, period_end: date,
              service_from: date | None = None):
    """An electric 15-minute meter alone on its account and cycle; returns (meter, connection)."""
    meter = Meter(f"E91{number:05d}", f"A91{number:05d}", "electric", "Wh", 0, 900, 48_000, "E-RES", 1.0)
    utility = Utility(settings.utility_zone, cycle, period_start, period_end,
                      [Account(meter.account_no, "Customer", f"{number} Gap Rd", ("electric",))], [meter])
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    if service_from:
        conn.execute("update service_agreements set start_date = %s", (service_from,))
    return meter, conn


def test_gaps_are_estimated_traced_and_replaced_by_late_actuals(settings):
    zone = settings.utility_zone
    meter, conn = one_meter(settings, 1, "C-GAP", date(2026, 10, 1), date(2026, 11, 1), date(2026, 9, 1))
    processor = BatchProcessor(settings, conn, cache=None)
    shape = np.arange(96, dtype=np.int64) * 2 + 100  # the same every day
    messages = [block(meter, zone, date(2026, 9, 1) + timedelta(days=d), 0, shape) for d in range(61)
                if date(2026, 9, 1) + timedelta(days=d) != date(2026, 10, 14)]  # a Wednesday with no reads
    day = date(2026, 10, 20)  # a Tuesday with a 3-interval gap (slots 40-42)
    messages = [m for m in messages if m.value != block(meter, zone, day, 0, shape).value]
    messages += [block(meter, zone, day, 0, shape[:40]), block(meter, zone, day, 43, shape[43:])]
    processor.process(messages)
    usage = "select sum(quantity), sum(read_count) from usage_daily where local_day >= '2026-10-01' " \
            "and local_day < '2026-11-01'"
    before = conn.execute(usage).fetchone()

    period_id = conn.execute("select id from billing_periods").fetchone()[0]
    from billing.metrics import BillRunMetrics

    metrics = BillRunMetrics()
    estimated = fill_period(conn, period_id, tally=lambda s, m, n: metrics.reads_estimated.labels(s, m).inc(n))
    assert estimated == {"linear": 3, "like_day": 96, "flat": 0}
    # the operators' counter moved by exactly what was estimated, under the meter's service
    assert {(s.labels["service"], s.labels["method"]): s.value for family in metrics.registry.collect()
            for s in family.samples if s.name == "m2c_reads_estimated_total"} == {
        (meter.service, "linear"): 3.0, (meter.service, "like_day"): 96.0}
    after = conn.execute(usage).fetchone()
    assert after[1] - before[1] == 99 and after[0] - before[0] == int(shape[40:43].sum() + shape.sum())
    quality = conn.execute("select quality[41:43] from interval_blocks where local_day = %s", (day,)).fetchone()[0]
    assert quality == [LINEAR] * 3
    whole_day = conn.execute("select quality[1], values = %s::bigint[] from interval_blocks where local_day = '2026-10-14'",
                             (shape.tolist(),)).fetchone()
    assert whole_day == (LIKE_DAY, True)
    assert conn.execute("select count(*), min(actor) from read_edits").fetchone() == (99, "vee:estimation")
    # each gap is an exception of its own, for staff to see: information, the estimates as evidence
    gaps = conn.execute("select block_start, severity, status, (select count(*) from unnest(flags) f where f > 0) "
                        "from vee_exceptions where day_rule = 'gap' order by block_start").fetchall()
    assert [(g[0].astimezone(ZoneInfo(zone)).date(), g[1], g[2], g[3]) for g in gaps] == [
        (date(2026, 10, 14), "information", "open", 96), (date(2026, 10, 20), "information", "open", 3)]
    assert fill_missing_reads(conn, [conn.execute("select id from meters").fetchone()[0]], date(2026, 10, 1),
                              date(2026, 11, 1)) == {"linear": 0, "like_day": 0, "flat": 0}  # nothing left

    # the actual read for slot 41 arrives late: it replaces the estimate, the rollup moves by the difference
    processor.process([block(meter, zone, day, 41, [500])])
    final = conn.execute(usage).fetchone()
    assert final[0] - after[0] == 500 - int(shape[41]) and final[1] == after[1]
    assert conn.execute("select values[42], quality[42] from interval_blocks where local_day = %s",
                        (day,)).fetchone() == (500, 0)
    assert conn.execute("select old_value, new_value, actor from read_edits order by id desc limit 1").fetchone() == \
        (int(shape[41]), 500, "head-end")  # the estimate it replaced is on record
    conn.close()


def test_a_gap_on_the_dst_day_is_estimated_from_like_days_by_wall_clock_time(settings):
    zone = settings.utility_zone
    meter, conn = one_meter(settings, 2, "C-DST", date(2026, 10, 20), date(2026, 11, 19), date(2026, 9, 20))
    shape = np.arange(96, dtype=np.int64) + 100  # value = wall-clock quarter hour + 100
    days = [date(2026, 10, 1) + timedelta(days=d) for d in range(49)]
    messages = [block(meter, zone, day, 0, shape) for day in days if day != date(2026, 11, 1)]
    # Sunday 2026-11-01 has 100 slots: 01:00-02:00 comes twice; slots 40-63 (09:00-15:00) never arrive
    dst_shape = np.concatenate([shape[:8], shape[4:]])
    messages += [block(meter, zone, date(2026, 11, 1), 0, dst_shape[:40]),
                 block(meter, zone, date(2026, 11, 1), 64, dst_shape[64:])]
    BatchProcessor(settings, conn, cache=None).process(messages)
    period_id = conn.execute("select id from billing_periods").fetchone()[0]
    assert fill_period(conn, period_id) == {"linear": 0, "like_day": 24, "flat": 0}
    values = conn.execute("select values from interval_blocks where local_day = '2026-11-01'").fetchone()[0]
    assert values == dst_shape.tolist()  # the like Sundays' 09:00-15:00, placed by wall-clock time


def test_a_gap_on_the_first_day_of_data_is_estimated_from_the_like_days_after_it(settings):
    zone = settings.utility_zone
    meter, conn = one_meter(settings, 3, "C-NEW", date(2026, 10, 20), date(2026, 11, 19))
    shape = np.arange(96, dtype=np.int64) + 100
    days = [date(2026, 10, 20) + timedelta(days=d) for d in range(30)]
    # the meter's first day (a Tuesday) lost 06:00-12:00; no earlier day exists
    messages = [block(meter, zone, day, 0, shape) for day in days[1:]]
    messages += [block(meter, zone, days[0], 0, shape[:24]), block(meter, zone, days[0], 48, shape[48:])]
    BatchProcessor(settings, conn, cache=None).process(messages)
    period_id = conn.execute("select id from billing_periods").fetchone()[0]
    estimated = fill_period(conn, period_id)
    # 24 on the first day, and the 4 intervals of the DST day's extra hour that 96-value blocks leave out
    assert estimated["like_day"] == 24 + 4
    values = conn.execute("select values from interval_blocks where local_day = '2026-10-20'").fetchone()[0]
    assert values == shape.tolist()


def test_a_missing_holiday_is_estimated_from_sundays(settings, monkeypatch):
    from meter2cash.cli import main

    zone = settings.utility_zone
    meter, conn = one_meter(settings, 7, "C-HOL", date(2026, 10, 1), date(2026, 11, 1), date(2026, 9, 1))
    weekday, sunday = np.full(96, 300, np.int64), np.full(96, 100, np.int64)
    days = [date(2026, 9, 1) + timedelta(days=d) for d in range(61)]
    holiday = date(2026, 10, 12)  # a Monday, lost
    BatchProcessor(settings, conn, cache=None).process(
        [block(meter, zone, d, 0, sunday if d.weekday() >= 5 else weekday) for d in days if d != holiday])
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert main(["vee", "holidays", "add", "2026-10-12", "Indigenous Peoples' Day"]) == 0
    fill_period(conn, conn.execute("select id from billing_periods").fetchone()[0])
    estimated = conn.execute("select values from interval_blocks where local_day = %s", (holiday,)).fetchone()[0]
    assert estimated == sunday.tolist()  # like the weekends, not the Mondays before it
