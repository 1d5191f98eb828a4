"""The worker's guard around the pipeline, with an in-memory processor standing in for the real one."""
import psycopg

from streams.agents import SafeBatches
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, RawMessage


class FakeProcessor:
    def __init__(self, fail_on=b"poison", outages=0):
        self.fail_on = fail_on
        self.outages = outages
        self.seen = []

    def process(self, messages, refresh=True):
        if self.outages:
            self.outages -= 1
            raise psycopg.OperationalError("server closed the connection")
        if any(m.value == self.fail_on for m in messages):
            raise ValueError("a bug met an input it did not expect")
        self.seen.extend(m.value for m in messages)
        return BatchOutcome(messages=len(messages), reads_received=len(messages), reads_stored=len(messages))


def test_a_message_that_breaks_the_batch_is_dead_lettered_and_the_rest_stored():
    processor = FakeProcessor()
    safe = SafeBatches(lambda: processor, StreamMetrics(), sleep=lambda s: None)
    messages = [RawMessage(b"a"), RawMessage(b"poison", offset=7), RawMessage(b"b")]
    outcome = safe.process(messages)
    assert processor.seen == [b"a", b"b"]
    assert outcome.reads_stored == 2
    assert [(d.message.offset, d.reason) for d in outcome.dead_letters] == [(7, "processing_error")]
    assert "did not expect" in outcome.dead_letters[0].detail


def test_a_database_outage_is_waited_out_with_a_new_connection():
    connections = []
    processor = FakeProcessor(outages=3)

    def connect():
        connections.append(1)
        return processor

    metrics = StreamMetrics()
    outcome = SafeBatches(connect, metrics, sleep=lambda s: None).process([RawMessage(b"a")])
    assert outcome.reads_stored == 1 and not outcome.dead_letters
    assert len(connections) == 4
    assert metrics.registry.get_sample_value("m2c_db_retries_total") == 3
