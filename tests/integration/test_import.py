"""Head-end files imported through the real broker and a real worker into PostgreSQL."""
import subprocess
import sys
from datetime import date

import psycopg
import pytest

from scenarios.harness import start_worker, stop_worker
from simulators.files import day_blocks, write_cmep, write_csv, write_espi
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.file_import import import_file
from streams.topics import ensure_topics
from tests.integration.test_kafka_worker import wait_for

pytestmark = pytest.mark.integration
METRICS_PORT = 9343


def stored(conn):
    return conn.execute("select coalesce(sum(read_count), 0), coalesce(sum(quantity), 0) from usage_daily").fetchone()


def test_cmep_greenbutton_and_csv_files_reach_usage_exactly_once(settings, tmp_path):
    utility = make_utility(meters=9, seed=4, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
    ensure_topics(settings)
    blocks = list(day_blocks(utility, date(2026, 10, 31), 3))
    # each format carries a third of the meters
    share = {m.meter_no: n % 3 for n, m in enumerate(utility.meters)}
    cmep_path, espi_path, csv_path = tmp_path / "a.cmep", tmp_path / "b.xml", tmp_path / "c.csv"
    write_cmep(str(cmep_path), utility, [(m, b) for m, b in blocks if share[m.meter_no] == 0])
    with open(cmep_path, "a") as out:
        out.write("MEPMD01,20080501,HE,UT,C,X,202611021200,NOPE1,OK,E,KWH,1.0,00000100,1,202611020100,R0,1\n")
        out.write("MEPMD01,20080501,HE,UT,C,X,202611021200,E0000001,OK,E,KWH,1.0,00000100,9,202611020100\n")
    write_espi(str(espi_path), utility, [(m, b) for m, b in blocks if share[m.meter_no] == 1])
    write_csv(str(csv_path), utility, [(m, b) for m, b in blocks if share[m.meter_no] == 2])
    expected_reads = sum(len(b.values) for _, b in blocks)
    expected_quantity = sum(int(b.values.sum()) for _, b in blocks)

    # the command line, as staff run it: exit 2 = imported, with rejected records listed by line
    run = subprocess.run([sys.executable, "-m", "meter2cash.cli", "import", "cmep", str(cmep_path)],
                         env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    cmep_lines = sum(1 for _ in open(cmep_path))
    assert f"line {cmep_lines - 1}: unknown_meter" in run.stdout
    assert f"line {cmep_lines}: count_mismatch" in run.stdout
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        summaries = [import_file(conn, settings.kafka_bootstrap, settings.topic_raw, kind, str(path))
                     for kind, path in (("greenbutton", espi_path), ("csv", csv_path))]
        assert [s.rejected for s in summaries] == [[], []]
        registers = conn.execute("select count(*), count(distinct meter_id) from register_reads").fetchone()
        assert registers == (6, 3)  # a dial read before and after, per CMEP meter

    worker = start_worker(settings, METRICS_PORT, str(tmp_path / "worker.log"))
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_for(lambda: stored(conn)[0] >= expected_reads, timeout=120, what="imported reads stored")
            assert stored(conn) == (expected_reads, expected_quantity)
            assert conn.execute("select count(*) from vee_exceptions").fetchone()[0] == 0
            # the dial moved by exactly what the intervals add up to
            moved = conn.execute(
                """select r.meter_id, max(r.value) - min(r.value), (select sum(total) from interval_blocks b
                   where b.meter_id = r.meter_id) from register_reads r group by r.meter_id""").fetchall()
            assert all(delta == total for _, delta, total in moved)

            # the same files again: nothing changes
            again = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "cmep", str(cmep_path))
            assert again.registers_changed == 0 and again.reads > 0
            import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "csv", str(csv_path))
            lag_settled = conn.execute("select max(updated_at) from interval_blocks").fetchone()[0]
            wait_for(lambda: _consumed(settings), timeout=60, what="re-imported messages consumed")
            assert stored(conn) == (expected_reads, expected_quantity)
            assert conn.execute("select max(updated_at) from interval_blocks").fetchone()[0] == lag_settled
    finally:
        stop_worker(worker)


def test_hand_read_meter_is_billed_from_its_register_reads(settings, tmp_path):
    utility = make_utility(meters=3, seed=4, zone=settings.utility_zone)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        meter = utility.meters[0].meter_no
        # a meter on a reading route: registered with one value a day
        conn.execute("update meters set interval_s = 86400, unit = 'gal', power_of_ten = 0, "
                     "expected_high_per_hour = 1000 where meter_no = %s", (meter,))
    ensure_topics(settings)
    route = tmp_path / "route.csv"
    route.write_text("meter_id,start,value,kind\n"
                     f"{meter},2026-10-20 09:12,48210,register\n"
                     f"{meter},2026-11-19 10:40,51930,register\n"
                     f"{meter},2026-11-25 10:40,51000,register\n")
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        summary = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, "csv", str(route))
        assert [(r.line, r.reason) for r in summary.rejected] == [(4, "register_backwards")]
        assert (summary.registers, summary.spread_reads) == (3, 30)
    worker = start_worker(settings, METRICS_PORT, str(tmp_path / "worker.log"))
    try:
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            wait_for(lambda: stored(conn)[0] >= 30, timeout=120, what="daily reads stored")
            # the period Oct 20 - Nov 19: every gallon between the two route reads, one value per day
            assert stored(conn) == (30, 51930 - 48210)
            assert conn.execute("select count(*) from vee_exceptions").fetchone()[0] == 0
    finally:
        stop_worker(worker)


def _consumed(settings) -> bool:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": settings.app_id})
    try:
        metadata = consumer.list_topics(settings.topic_raw, timeout=10).topics[settings.topic_raw]
        partitions = [TopicPartition(settings.topic_raw, p) for p in metadata.partitions]
        committed = consumer.committed(partitions, timeout=10)
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high and tp.offset < high:
                return False
        return True
    finally:
        consumer.close()
