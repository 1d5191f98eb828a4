"""The register sum check at cycle close, on reads imported from a CMEP file through Kafka."""
from datetime import date

import psycopg
import pytest

from simulators.files import day_blocks, write_cmep
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.file_import import import_file
from vee.gap_fill import fill_period
from streams.pipeline import BatchProcessor, RawMessage
from streams.topics import ensure_topics
from vee.rules import REGISTER_SUM
from tests.integration.test_kafka_worker import consume_all

pytestmark = pytest.mark.integration


def test_intervals_against_the_dial_with_rollover(settings, tmp_path):
    utility = make_utility(meters=6, seed=12, zone=settings.utility_zone, period_start=date(2026, 10, 20),
                           period_end=date(2026, 11, 19))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
    ensure_topics(settings)
    blocks = list(day_blocks(utility, date(2026, 10, 20), 30))
    path = tmp_path / "headend.cmep"
    write_cmep(str(path), utility, blocks)  # a dial read before and after, per meter: exactly the intervals
    meters = [m.meter_no for m in utility.meters]
    good, misread, rolled, backwards = meters[:4]
    lines = path.read_text().splitlines()
    registers = {line.split(",")[7]: n for n, line in enumerate(lines) if "REG," in line}

    def set_dial(meter: str, first: str | None = None, last: str | None = None) -> None:
        fields = lines[registers[meter]].split(",")
        if first is not None:
            fields[16] = first
        if last is not None:
            fields[19] = last
        lines[registers[meter]] = ",".join(fields)

    def dial(meter: str, position: int) -> float:
        return float(lines[registers[meter]].split(",")[position])

    start, end = dial(misread, 16), dial(misread, 19)
    set_dial(misread, last=f"{start + (end - start) * 1.1:.3f}")  # the dial says 10 % more than the intervals
    set_dial(backwards, last=f"{dial(backwards, 16) - 1:.3f}")  # lower than before, digits unknown
    path.write_text("\n".join(lines) + "\n")

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        summary = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "cmep", str(path))
        assert summary.rejected == [] and summary.registers == 12
        # the rolled-over meter: its dial has one digit more than the period's use, the first read
        # just before the turn
        unit = conn.execute("select power_of_ten from meters where meter_no = %s", (rolled,)).fetchone()[0]
        total = sum(int(b.values.sum()) for m, b in blocks if m.meter_no == rolled)
        digits = len(str(total)) + 1 + unit
        modulus = 10 ** (digits - unit)
        conn.execute("update meters set register_digits = %s where meter_no = %s", (digits, rolled))
        conn.execute("update register_reads r set value = case when r.read_at = (select min(read_at) from "
                     "register_reads where meter_id = r.meter_id) then %s else %s end from meters m "
                     "where m.id = r.meter_id and m.meter_no = %s", (modulus - 7, total - 7, rolled))
        messages = consume_all(settings, settings.topic_raw, summary.blocks, timeout=60)
        processor = BatchProcessor(settings, conn, cache=None)
        processor.process([RawMessage(m.value()) for m in messages])

        period_id = conn.execute("select id from billing_periods").fetchone()[0]
        fill_period(conn, period_id)
        found = conn.execute("select meter_no, rules, severity, values, flags from vee_exceptions "
                             "where day_rule = 'register_sum' order by meter_no").fetchall()
        assert [row[0] for row in found] == sorted([misread, backwards])
        by_meter = {row[0]: row for row in found}
        first, second, change, intervals = by_meter[misread][3]
        assert change == second - first and intervals == sum(int(b.values.sum()) for m, b in blocks
                                                            if m.meter_no == misread)
        assert abs(change - intervals * 1.1) <= intervals * 0.01 + 1000  # the evidence shows the 10 %
        assert by_meter[backwards][3][2] == -1
        assert all(row[1] == ["register_sum"] and row[2] == "issue" and row[4][2] == REGISTER_SUM for row in found)
        # checked again (the next tick): nothing recorded twice
        fill_period(conn, period_id)
        assert conn.execute("select count(*) from vee_exceptions where day_rule = 'register_sum'").fetchone()[0] == 2
