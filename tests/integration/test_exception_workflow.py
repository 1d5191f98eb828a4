"""Staff work the VEE exception queue: blocked bills, release, override with an audit trail."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from billing.bill_run import find_period, run_bill_run
from meter2cash.cli import main
from simulators.utility import make_utility
from storage import vee_queue as stored
from vee import queue
from storage.bulk_load import load_directory
from storage.tariffs import current_tariffs
from meterdata.codec import Block, encode_binary
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration


@pytest.fixture
def flagged(settings):
    """A small utility's period streamed, with one negative read on one electric meter."""
    utility = make_utility(meters=6, seed=3, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    processor = BatchProcessor(settings, conn, cache=None)
    from simulators.headend import generate

    processor.process([RawMessage(m.value) for m in generate(utility, block_hours=24)])
    meter = next(m for m in utility.meters if m.service == "electric")
    start = int(datetime.combine(date(2026, 10, 25), time(12), ZoneInfo(settings.utility_zone)).timestamp())
    bad = Block(meter.meter_no, 1, start, 900, np.array([300, -40, 310]), np.zeros(3, np.uint8))
    processor.process([RawMessage(encode_binary(bad), topic="raw", partition=0, offset=1)])
    exception_id = conn.execute("select id from vee_exceptions where 'negative' = any(rules)").fetchone()[0]
    yield conn, utility, meter, exception_id
    conn.close()


def test_a_blocking_exception_holds_the_bill_until_released(flagged):
    conn, utility, meter, exception_id = flagged
    period = find_period(conn, utility.cycle_code)
    first = run_bill_run(conn, period, current_tariffs(conn))
    assert first.accounts_held == {meter.account_no: "blocking_exceptions:1"}
    assert first.accounts_billed == len(utility.accounts) - 1
    assert conn.execute("select closed_at from billing_periods where id = %s", (period,)).fetchone()[0] is None

    assert queue.act(conn, [exception_id], "release", "clerk.ann", "customer confirmed meter swap") == 1
    assert queue.act(conn, [exception_id], "accept", "clerk.bob", "too late") == 0  # not open any more
    second = run_bill_run(conn, period, current_tariffs(conn))
    assert second.accounts_billed == 1 and not second.accounts_held
    assert [(a, who) for a, who, *_ in stored.history(conn, exception_id)] == [("release", "clerk.ann")]


def test_override_stores_edited_reads_moves_rollups_and_keeps_the_old_value(flagged):
    conn, utility, meter, exception_id = flagged
    day = "select quantity, read_count from usage_daily u join meter_installations i on i.service_point_id = " \
          "u.service_point_id join meters m on m.id = i.meter_id where m.meter_no = %s and u.local_day = '2026-10-25'"
    before_quantity, before_count = conn.execute(day, (meter.meter_no,)).fetchone()
    stored_before = conn.execute(
        "select values[50] from interval_blocks b join meters m on m.id = b.meter_id "
        "where m.meter_no = %s and b.local_day = '2026-10-25'", (meter.meter_no,)).fetchone()[0]
    assert queue.override(conn, exception_id, {1: 295}, "clerk.ann", "neighbouring reads") == 1
    after_quantity, after_count = conn.execute(day, (meter.meter_no,)).fetchone()
    assert after_quantity - before_quantity == 295 - stored_before and after_count == before_count
    value, quality = conn.execute(
        "select values[50], quality[50] from interval_blocks b join meters m on m.id = b.meter_id "
        "where m.meter_no = %s and b.local_day = '2026-10-25'", (meter.meter_no,)).fetchone()
    assert (value, quality) == (295, queue.QUALITY_EDITED)
    edit = conn.execute("select old_value, new_value, actor, reason, exception_id from read_edits "
                        "where actor = %s", ("clerk.ann",)).fetchone()
    assert edit == (stored_before, 295, "clerk.ann", "neighbouring reads", exception_id)
    assert stored.get_exception(conn, exception_id).status == "overridden"
    with pytest.raises(queue.ExceptionActionRefused):
        queue.override(conn, exception_id, {1: 1}, "clerk.ann", "again")


def test_exceptions_cli(flagged, settings, monkeypatch, capsys):
    conn, utility, meter, exception_id = flagged
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert main(["exceptions", "list", "--rule", "negative"]) == 0
    listing = capsys.readouterr().out
    assert meter.meter_no in listing and "blocks_billing" in listing
    assert main(["exceptions", "accept", str(exception_id), "--by", "clerk.cy"]) == 2  # no reason given
    assert main(["exceptions", "accept", str(exception_id), "--by", "clerk.cy", "--why", "known fault"]) == 0
    assert main(["exceptions", "show", str(exception_id)]) == 0
    shown = capsys.readouterr().out
    assert "position    1: value        -40  negative" in shown and "accept by clerk.cy: known fault" in shown
    assert main(["exceptions", "reopen", str(exception_id), "--by", "lead.dee", "--why", "recheck"]) == 0
    assert stored.get_exception(conn, exception_id).status == "open"


def test_reestimate_fills_the_held_back_read_and_closes_the_exception(flagged, settings, monkeypatch, capsys):
    conn, utility, meter, _ = flagged
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    # a day the simulator did not send: only the head-end's bad block is there
    day = date(2026, 11, 20)
    start = int(datetime.combine(day, time(12), ZoneInfo(settings.utility_zone)).timestamp())
    bad = Block(meter.meter_no, 1, start, 900, np.array([300, -40, 310]), np.zeros(3, np.uint8))
    BatchProcessor(settings, conn, cache=None).process([RawMessage(encode_binary(bad), topic="raw", partition=0,
                                                                   offset=2)])
    exception_id = conn.execute("select id from vee_exceptions where source_offset = 2").fetchone()[0]
    usage = "select quantity, read_count from usage_daily u join meter_installations i on i.service_point_id = " \
            "u.service_point_id join meters m on m.id = i.meter_id where m.meter_no = %s and u.local_day = %s"
    assert conn.execute(usage, (meter.meter_no, day)).fetchone() == (610, 2)
    assert main(["exceptions", "reestimate", str(exception_id), "--by", "clerk.eve", "--why", "meter fault"]) == 0
    assert "estimated 1 linear" in capsys.readouterr().out
    value, quality = conn.execute("select values[50], quality[50] from interval_blocks b join meters m "
                                  "on m.id = b.meter_id where m.meter_no = %s and b.local_day = %s",
                                  (meter.meter_no, day)).fetchone()
    assert (value, quality) == (305, 201)  # between the 300 and 310 around it
    assert conn.execute(usage, (meter.meter_no, day)).fetchone() == (915, 3)
    assert stored.get_exception(conn, exception_id).status == "estimated"
    assert [a for a, *_ in stored.history(conn, exception_id)] == ["reestimate"]


def test_stored_flags_hold_all_32_bits(flagged):
    """A rule past the sixteenth (bit 31) round-trips through the queue: stored flags are 32 bits wide."""
    conn, _, meter, exception_id = flagged
    assert conn.execute("select data_type, udt_name from information_schema.columns "
                        "where table_name = 'vee_exceptions' and column_name = 'flags'").fetchone() == ("ARRAY", "_int8")
    record = stored.get_exception(conn, exception_id)
    from storage.reads import ExceptionRecord, record_day_exceptions
    wide = [(1 << 31) | f for f in record.flags]
    record_day_exceptions(conn, [ExceptionRecord(meter.meter_no, None, 1, int(record.block_start.timestamp()),
                                                 record.interval_s, ["future_rule"], "issue", 0, record.values,
                                                 wide)], ["future_rule"])
    kept = conn.execute("select flags from vee_exceptions where day_rule = 'future_rule'").fetchone()[0]
    assert kept == wide
