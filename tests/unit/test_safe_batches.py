"""The worker's guard around the pipeline, with an in-memory processor standing in for the real one."""
import psycopg
from psycopg.errors import DiskFull, LockNotAvailable as LockTimeout, NumericValueOutOfRange as BadValue
from psycopg.errors import QueryCanceled as Timeout, ReadOnlySqlTransaction as ReadOnly, UndefinedTable as MissingTable

from streams.agents import SafeBatches
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, RawMessage


class FakeProcessor:
    def __init__(self, fail_on=b"poison", outages=0, outage=None):
        self.fail_on = fail_on
        self.outages = outages
        self.outage = outage or (lambda: psycopg.OperationalError("server closed the connection"))
        self.seen = []

    def process(self, messages, refresh=True):
        if self.outages:
            self.outages -= 1
            raise self.outage()
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
    assert metrics.registry.get_sample_value("m2c_db_retries_total", {"sqlstate": "OperationalError"}) == 3


def test_a_read_only_database_is_waited_out_and_nothing_is_dead_lettered():
    """ReadOnlySqlTransaction is an InternalError, not an OperationalError: it still passes with time."""
    processor = FakeProcessor(outages=40, outage=lambda: ReadOnly("cannot execute COPY in a read-only transaction"))
    metrics = StreamMetrics()
    delays = []
    outcome = SafeBatches(lambda: processor, metrics, sleep=delays.append).process(
        [RawMessage(b"a"), RawMessage(b"b")])
    assert processor.seen == [b"a", b"b"] and not outcome.dead_letters
    assert metrics.registry.get_sample_value("m2c_db_retries_total", {"sqlstate": "25006"}) == 40
    assert delays[0] == 0.1 and max(delays) == SafeBatches.MAX_DELAY  # backs off, never gives up


def test_timeouts_locks_disk_full_and_schema_errors_are_retried_not_dead_lettered():
    for error in (Timeout, LockTimeout, DiskFull, MissingTable):
        processor = FakeProcessor(outages=3, outage=lambda e=error: e("x"))
        outcome = SafeBatches(lambda: processor, StreamMetrics(), sleep=lambda s: None).process([RawMessage(b"a")])
        assert processor.seen == [b"a"] and not outcome.dead_letters, error


class DataErrorOn(FakeProcessor):
    """A data error on one message, whether alone or in a batch; and optionally once on another."""

    def __init__(self, once_on=None):
        super().__init__()
        self.once_on = once_on

    def process(self, messages, refresh=True):
        values = [m.value for m in messages]
        if b"poison" in values:
            raise BadValue("integer out of range")
        if self.once_on in values:
            self.once_on = None
            raise BadValue("integer out of range")
        return super().process(messages, refresh)


def test_only_a_data_error_proven_on_one_message_alone_dead_letters_it():
    processor = DataErrorOn(once_on=b"flaky")
    messages = [RawMessage(b"a"), RawMessage(b"poison", offset=3), RawMessage(b"flaky", offset=4)]
    outcome = SafeBatches(lambda: processor, StreamMetrics(), sleep=lambda s: None).process(messages)
    assert [(d.message.offset, d.reason) for d in outcome.dead_letters] == [(3, "data_error")]
    assert "22003" in outcome.dead_letters[0].detail
    assert processor.seen == [b"a", b"flaky"]  # failed alone once, then stored: not dead-lettered


def test_sqlstates_are_classified():
    from storage.db_errors import DATA, DATABASE, TRANSIENT, classify

    assert classify(ReadOnly("x")) == TRANSIENT
    assert classify(Timeout("x")) == classify(LockTimeout("x")) == classify(DiskFull("x")) == TRANSIENT
    assert classify(psycopg.errors.UniqueViolation("x")) == TRANSIENT
    assert classify(psycopg.errors.AdminShutdown("x")) == TRANSIENT
    assert classify(psycopg.errors.SerializationFailure("x")) == TRANSIENT
    assert classify(BadValue("x")) == DATA
    assert classify(psycopg.errors.ForeignKeyViolation("x")) == DATA
    assert classify(MissingTable("x")) == DATABASE
    assert classify(psycopg.OperationalError("no sqlstate")) == TRANSIENT
    assert classify(ValueError("not a database error")) is None
