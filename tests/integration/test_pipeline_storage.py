"""The batch pipeline on the real PostgreSQL and Redis: idempotent merge, exact rollups, estimates."""
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from simulators.headend import FaultPlan, Truth, generate
from simulators.utility import make_utility
from storage.cache import EstimateCache
from meterdata.day_rows import ESTIMATED_AT_SOURCE
from storage.attribution import reattribute
from storage.bulk_load import load_directory
from storage.schema import uses_native_partitions
from storage.usage import usage_for
from meterdata.codec import Block, encode_binary, encode_json
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


def snapshot(conn):
    return (conn.execute("select meter_id, channel, local_day, values, total, read_count from interval_blocks "
                         "order by 1, 2, 3").fetchall(),
            conn.execute("select * from usage_daily order by 1, 2, 3").fetchall())


def messages_of(utility, **kwargs):
    """As a consumer reads them from the topic: each with its offset and append time (a redelivery
    keeps both, and so the block's version)."""
    appended = 1_790_000_000.0
    return [RawMessage(m.value, m.key, "raw", 0, offset, appended + offset / 1000)
            for offset, m in enumerate(generate(utility, **kwargs))]


@pytest.fixture
def loaded(settings):
    utility = make_utility(meters=12, seed=5, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    cache = EstimateCache.for_database(settings.redis_url, conn)
    yield utility, conn, BatchProcessor(settings, conn, cache), cache
    conn.close()


def test_every_read_is_stored_or_flagged_and_redelivery_changes_nothing(loaded):
    utility, conn, processor, _ = loaded
    truth = Truth()
    messages = messages_of(utility, faults=FaultPlan(negative=0.02, spike=0.02, misaligned=0.01,
                                                     unknown_meter=0.01, undecodable=0.01),
                           truth=truth, json_share=0.2)
    dead = 0
    for start in range(0, len(messages), 300):
        outcome = processor.process(messages[start:start + 300])
        dead += len(outcome.dead_letters)
    stored = conn.execute("select sum(read_count) from usage_daily").fetchone()[0]
    flagged = conn.execute("select sum(flagged_count) from vee_exceptions").fetchone()[0]
    assert stored + flagged == truth.reads
    assert flagged == truth.flagged_reads
    assert dead == truth.dlq_messages
    before = snapshot(conn)
    exceptions_before = conn.execute("select count(*) from vee_exceptions").fetchone()[0]

    # the whole stream again, in other batch sizes: nothing changes
    for start in range(0, len(messages), 777):
        again = processor.process(messages[start:start + 777])
        assert again.stored.reads_added == 0
        assert again.stored.rows_inserted == again.stored.rows_updated == 0
    assert snapshot(conn) == before
    assert conn.execute("select count(*) from vee_exceptions").fetchone()[0] == exceptions_before


def test_rollups_equal_the_stored_intervals(loaded):
    utility, conn, processor, _ = loaded
    processor.process(messages_of(utility))
    by_blocks = conn.execute(
        "select i.service_point_id, b.channel, b.local_day, sum(b.total), sum(b.read_count) "
        "from interval_blocks b join meter_installations i on i.meter_id = b.meter_id group by 1, 2, 3 order by 1, 2, 3").fetchall()
    rollup = conn.execute("select service_point_id, channel, local_day, quantity, read_count "
                          "from usage_daily order by 1, 2, 3").fetchall()
    assert by_blocks == rollup
    # the analysts' view unnests the same reads
    view = conn.execute("select count(*), sum(value) from interval_reads").fetchone()
    assert view == (sum(r[4] for r in rollup), sum(r[3] for r in rollup))


def test_a_corrected_read_moves_the_rollup_by_exactly_the_difference(loaded, settings):
    utility, conn, processor, _ = loaded
    meter = next(m for m in utility.meters if m.service == "electric")
    zone = ZoneInfo(settings.utility_zone)
    start = int(datetime.combine(date(2026, 10, 25), time(6), zone).timestamp())
    original = Block(meter.meter_no, 1, start, 900, np.array([100, 200, 300, 400]), np.zeros(4, np.uint8))
    processor.process([RawMessage(encode_binary(original))])
    day_total = "select quantity, read_count from usage_daily where local_day = '2026-10-25'"
    assert conn.execute(day_total).fetchone() == (1000, 4)
    correction = Block(meter.meter_no, 1, start + 900, 900, np.array([250]), np.zeros(1, np.uint8))
    outcome = processor.process([RawMessage(encode_json(correction))])
    assert outcome.stored.rows_updated == 1
    assert conn.execute(day_total).fetchone() == (1050, 4)
    values = conn.execute("select values[25:28] from interval_blocks").fetchone()[0]
    assert values == [100, 250, 300, 400]
    # the replaced read keeps a trace
    trace = conn.execute("select extract(epoch from interval_start)::bigint, old_value, new_value, actor "
                         "from read_edits").fetchall()
    assert trace == [(start + 900, 200, 250, "head-end")]


def test_reads_a_head_end_estimated_count_as_estimated_until_actual_reads_replace_them(loaded, settings):
    utility, conn, processor, _ = loaded
    meter = next(m for m in utility.meters if m.service == "electric")
    zone = ZoneInfo(settings.utility_zone)
    start = int(datetime.combine(date(2026, 10, 26), time(6), zone).timestamp())
    estimated = Block(meter.meter_no, 1, start, 900, np.array([100, 200, 300, 400]),
                      np.array([0, ESTIMATED_AT_SOURCE, ESTIMATED_AT_SOURCE, 0], np.uint8))
    processor.process([RawMessage(encode_binary(estimated))])
    day = "select quantity, read_count, estimated_count from usage_daily where local_day = '2026-10-26'"
    assert conn.execute(day).fetchone() == (1000, 4, 2)
    period = conn.execute("select p.id from billing_periods p join billing_cycles c on c.id = p.billing_cycle_id "
                          "where c.code = %s order by p.period_start limit 1", (utility.cycle_code,)).fetchone()[0]
    account = conn.execute("select sa.account_id from meters m join agreement_meters am on am.meter_id = m.id "
                           "join service_agreements sa on sa.id = am.service_agreement_id where m.meter_no = %s",
                           (meter.meter_no,)).fetchone()[0]
    usage = next(u for u in usage_for(conn, [(account, period)]) if u.service == "electric")
    assert usage.estimated_count == 2  # the bill is marked estimated and trued up later
    actual = Block(meter.meter_no, 1, start + 900, 900, np.array([210]), np.zeros(1, np.uint8))
    processor.process([RawMessage(encode_binary(actual))])
    assert conn.execute(day).fetchone() == (1010, 4, 1)
    # rolling the meter's days up again from the stored reads (as an installation recorded late does)
    # gives the same rollup, estimates counted
    conn.execute("update usage_daily set estimated_count = 0, quantity = 0")
    meter_id = conn.execute("select id from meters where meter_no = %s", (meter.meter_no,)).fetchone()[0]
    with conn.transaction():
        reattribute(conn, meter_id, datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert conn.execute(day).fetchone() == (1010, 4, 1)


def test_a_stale_resend_never_undoes_a_correction_or_a_staff_edit(loaded, settings):
    """Blocks with versions (binary and JSON), resent in both orders; an estimate of a newer version; a
    staff override, then the head-end's old block again: the stored reads and rollups follow the rules."""
    from vee.queue import edit_reads

    utility, conn, processor, _ = loaded
    meter = next(m for m in utility.meters if m.service == "electric")
    ids = conn.execute("select id, zone from meters where meter_no = %s",
                       (meter.meter_no,)).fetchone()
    zone = ZoneInfo(settings.utility_zone)
    day = "select quantity, read_count, estimated_count from usage_daily where local_day = %s"
    for number, order in enumerate(("old first", "new first")):
        local = date(2026, 10, 20 + number)
        start = int(datetime.combine(local, time(6), zone).timestamp())
        old = Block(meter.meter_no, 1, start, 900, np.array([100, 200, 300, 400]), np.zeros(4, np.uint8),
                    version=1_790_000_000_000)
        new = Block(meter.meter_no, 1, start, 900, np.array([100, 250, 300, 400]), np.zeros(4, np.uint8),
                    version=1_790_000_060_000)
        sequence = [encode_binary(old), encode_json(new)] if order == "old first" else [encode_json(new),
                                                                                        encode_binary(old)]
        for value in sequence + [encode_binary(old)]:  # and the old block once more, as a head-end resends
            processor.process([RawMessage(value)])
        assert conn.execute(day, (local,)).fetchone() == (1050, 4, 0), order
        estimate = Block(meter.meter_no, 1, start, 900, np.array([9, 9, 9, 9]), np.ones(4, np.uint8),
                         version=1_790_000_120_000)  # the head-end's estimate, newer: an actual holds
        outcome = processor.process([RawMessage(encode_binary(estimate))])
        assert outcome.stored.reads_superseded == 4 and outcome.stored.rows_updated == 0
        assert conn.execute(day, (local,)).fetchone() == (1050, 4, 0), order
    # a staff edit, then the head-end's newest block resent: the edit stands, and is billed
    start = int(datetime.combine(date(2026, 10, 21), time(6), zone).timestamp())
    edit_reads(conn, ids[0], ids[1], 1, np.array([start + 900], np.int64), 900, np.array([500]),
               "clerk", "customer's photo of the register")
    assert conn.execute(day, (date(2026, 10, 21),)).fetchone() == (1300, 4, 0)
    resent = Block(meter.meter_no, 1, start, 900, np.array([100, 250, 300, 400]), np.zeros(4, np.uint8),
                   version=1_790_000_060_000)
    processor.process([RawMessage(encode_binary(resent))])
    assert conn.execute(day, (date(2026, 10, 21),)).fetchone() == (1300, 4, 0)
    stored = conn.execute("select values[25:28], quality[25:28] from interval_blocks where local_day = %s",
                          (date(2026, 10, 21),)).fetchone()
    assert stored == ([100, 500, 300, 400], [0, 200, 0, 0])


def test_dst_fall_back_day_is_stored_in_100_slots(loaded, settings):
    utility, conn, processor, _ = loaded
    meter = next(m for m in utility.meters if m.service == "electric")
    zone = ZoneInfo(settings.utility_zone)
    start = int(datetime.combine(date(2026, 11, 1), time(0), zone).timestamp())
    block = Block(meter.meter_no, 1, start, 900, np.ones(100, np.int64), np.zeros(100, np.uint8))
    processor.process([RawMessage(encode_binary(block))])
    row = conn.execute("select array_length(values, 1), read_count, total from interval_blocks").fetchone()
    assert row == (100, 100, 100)


def test_partitions_follow_the_data(loaded):
    utility, conn, processor, _ = loaded
    processor.process(messages_of(utility))
    if uses_native_partitions(conn):
        names = {r[0] for r in conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "join pg_class p on p.oid = i.inhparent where p.relname = 'interval_blocks'")}
        assert names == {"interval_blocks_202610", "interval_blocks_202611"}


def test_estimates_in_redis_sum_over_the_account(loaded):
    utility, conn, processor, cache = loaded
    processor.process(messages_of(utility))
    multi = next(a for a in utility.accounts if len(a.services) > 1)
    account_id = conn.execute("select id from accounts where account_no = %s", (multi.account_no,)).fetchone()[0]
    body = cache.read(account_id)
    assert body is not None and len(body["services"]) == len(multi.services)
    agreements = body["services"]
    assert {a["service"] for a in agreements} == set(multi.services)
    assert body["bill_to_date_minor"] == sum(a["bill_to_date_minor"] for a in agreements) > 0
    for agreement in agreements:
        assert agreement["bill_to_date_minor"] == sum(line["amount_minor"] for line in agreement["bill_to_date_lines"])
    assert body["days_elapsed"] == body["days_in_period"] == 30
