"""Random and hostile input through the real pipeline: it never raises, and every decoded read is
either stored or flagged while every undecodable message is dead-lettered."""
import json
from datetime import datetime, timezone

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration
START = 1_792_040_400  # 2026-10-20T05:00:00Z, local midnight in America/Chicago


def iso(moment: int) -> str:
    return datetime.fromtimestamp(moment % 4_000_000_000, timezone.utc).isoformat()


def plausible_documents(meters):
    """Decodable blocks: known and unknown meters, aligned and misaligned, some out of range values."""
    return st.fixed_dictionaries({
        "meter_id": st.one_of(st.sampled_from(meters), st.sampled_from(["X1", "E9999999"])),
        "channel": st.sampled_from([1, 1, 1, 2]),
        "start": st.integers(-10, 2000).map(lambda k: iso(START + k * 900 + (k % 7 == 0) * 60)),
        "interval_s": st.sampled_from([900, 3600, 60]),
        "values": st.lists(st.integers(-10, 10**6), min_size=1, max_size=120),
    })


def hostile_documents(meters):
    return st.fixed_dictionaries({
        "meter_id": st.one_of(st.sampled_from(meters), st.text(max_size=70), st.integers()),
        "channel": st.integers(-2, 300),
        "start": st.one_of(st.integers(0, 5_000_000_000).map(iso), st.text(max_size=30)),
        "interval_s": st.sampled_from([900, 3600, 60, 7, 0, -900]),
        "values": st.lists(st.one_of(st.integers(-(2**63), 2**63), st.floats(allow_nan=True)), max_size=120),
    })


@pytest.fixture
def processor(settings):
    utility = make_utility(meters=6, seed=4, zone=settings.utility_zone)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    load_directory(conn, utility)
    yield BatchProcessor(settings, conn, cache=None), conn, [m.meter_no for m in utility.meters]
    conn.close()


def test_fuzzed_messages_are_stored_flagged_or_dead_lettered(processor):
    processor, conn, meters = processor
    totals = {"decoded": 0, "dead": 0, "messages": 0}
    documents = st.one_of(plausible_documents(meters), plausible_documents(meters), hostile_documents(meters))

    @hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.one_of(documents.map(lambda d: json.dumps(d).encode()), st.binary(max_size=200)),
                    min_size=1, max_size=40))
    def run(values):
        outcome = processor.process([RawMessage(v) for v in values])
        assert outcome.reads_stored + outcome.reads_flagged == outcome.reads_received
        assert len(outcome.dead_letters) <= len(values) and all(d.reason for d in outcome.dead_letters)
        totals["decoded"] += outcome.reads_received
        totals["dead"] += len(outcome.dead_letters)
        totals["messages"] += len(values)

    run()
    flagged = conn.execute("select coalesce(sum(flagged_count), 0) from vee_exceptions").fetchone()[0]
    stored_rows = conn.execute("select coalesce(sum(read_count), 0) from usage_daily").fetchone()[0]
    assert totals["dead"] > 0 and totals["messages"] > totals["dead"]
    # redeliveries inside the fuzz may repeat reads, so storage holds at most what was decoded
    assert stored_rows + flagged <= totals["decoded"]
    assert conn.execute("select count(*) from usage_daily where quantity < 0").fetchone()[0] == 0
