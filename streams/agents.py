"""The ingest agent: take batches, hand them to the pipeline, publish dead letters and exceptions,
and only then let Faust acknowledge the batch."""
from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
import json
import logging
import time
from typing import Callable

import faust
import psycopg
from aiokafka.errors import MessageSizeTooLargeError

from config.settings import Settings
from storage.cache import EstimateCache
from storage.db_errors import DATA, classify, connect_waiting, first_line, label, sqlstate
from streams.dlq import dead_letter_record
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, BatchProcessor, DeadLetter, Estimator, RawMessage

log = logging.getLogger(__name__)


def exception_event(record) -> bytes:
    return json.dumps({
        "meter_id": record.meter_no, "channel": record.channel, "block_start": record.block_start,
        "interval_s": record.interval_s, "rules": record.rules, "severity": record.severity,
        "flagged_count": record.flagged_count, "values": record.values, "flags": record.flags,
    }, separators=(",", ":")).encode()


class SafeBatches:
    """Runs batches through a :class:`BatchProcessor` so that input never stops the worker and no
    batch is acknowledged without being stored or dead-lettered.

    - a database error that passes with time (connection lost, read-only, disk full, statement or lock
      timeout, shutdown: :mod:`storage.db_errors`) is waited out: the batch is retried on a new
      connection with a growing back-off, however long it takes, and every retry is counted;
    - a database error of the schema or the server (a missing table, an internal error) is waited out
      the same way: it is not a property of any message;
    - a batch that fails with a data error, or with an exception of the code, is split into single
      messages; a message that fails alone twice in a row, the same way, goes to the dead-letter topic
      with the error (``data_error`` with its SQLSTATE, or ``processing_error``).
    """

    MAX_DELAY = 5.0

    def __init__(self, connect: Callable[[], BatchProcessor], metrics: StreamMetrics,
                 sleep: Callable[[float], None] = time.sleep, connect_estimator: Callable[[], Estimator] | None = None):
        self._connect = connect
        self._connect_estimator = connect_estimator
        self._metrics = metrics
        self._sleep = sleep
        self._processor: BatchProcessor | None = None
        self._estimator: Estimator | None = None

    def _wait(self, error: BaseException, stage: str, delay: float) -> float:
        """Count and log a retry, sleep, and return the next delay."""
        self._metrics.db_retries.labels(label(error)).inc()
        log.warning("database error in the %s stage (%s: %s); retrying in %.1f s", stage, label(error),
                    first_line(error), delay)
        self._sleep(delay)
        return min(delay * 2, self.MAX_DELAY)

    def refresh(self, outcome: BatchOutcome) -> int:
        """The estimate stage, on a connection of its own; waits out a database that is away."""
        delay = 0.1
        while True:
            try:
                if self._estimator is None:
                    self._estimator = self._connect_estimator()
                written = self._estimator.refresh(outcome.stored.touched)
                self._metrics.observe_estimated(outcome.first_append, outcome.newest_read_end, time.time())
                return written
            except psycopg.Error as error:
                if classify(error) == DATA:
                    raise
                _close(self._estimator)
                self._estimator = None
                delay = self._wait(error, "estimate", delay)

    def _process_batch(self, messages: list[RawMessage]) -> BatchOutcome:
        """Process ``messages``, waiting out every database error but a data error (raised)."""
        delay = 0.1
        while True:
            try:
                if self._processor is None:  # a new processor queries the database too
                    self._processor = self._connect()
                return self._processor.process(messages, refresh=self._connect_estimator is None)
            except psycopg.Error as error:
                if classify(error) == DATA:
                    raise
                _close(self._processor)
                self._processor = None
                delay = self._wait(error, "store", delay)

    def process(self, messages: list[RawMessage]) -> BatchOutcome:
        try:
            return self._process_batch(messages)
        except Exception as error:
            log.warning("batch of %d messages failed (%s); processing them one by one", len(messages),
                        label(error))
        combined = BatchOutcome(messages=len(messages))
        for message in messages:
            outcome = self._process_alone(message)
            if isinstance(outcome, DeadLetter):
                self._metrics.dlq_messages.labels(outcome.reason).inc()
                combined.dead_letters.append(outcome)
            else:
                combined.merge(outcome)
        return combined

    def _process_alone(self, message: RawMessage) -> BatchOutcome | DeadLetter:
        """One message on its own: its outcome, or a dead letter once it failed twice the same way."""
        failures: list[str] = []
        while True:
            try:
                return self._process_batch([message])
            except Exception as error:
                code = sqlstate(error)
                failures.append(code or type(error).__name__)
                log.warning("message %s/%s/%s failed alone (%s)", message.topic, message.partition, message.offset,
                            failures[-1], exc_info=len(failures) > 1)
                if len(failures) >= 2 and failures[-1] == failures[-2]:
                    if code is not None:
                        return DeadLetter(message, "data_error", f"SQLSTATE {code}: {str(error).strip()[:480]}")
                    return DeadLetter(message, "processing_error", repr(error)[:500])


def _close(processor) -> None:
    """Close a processor's (or an estimator's) connections, if there is one; nothing it raises matters
    any more."""
    if processor is None:
        return
    try:
        processor.close()
    except Exception:  # an already broken connection, or a stand-in without connections
        pass


def register(app: faust.App, settings: Settings, metrics: StreamMetrics) -> None:
    raw = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    dlq = app.topic(settings.topic_dlq, value_serializer="raw", key_serializer="raw")
    exceptions = app.topic(settings.topic_exceptions, value_serializer="raw", key_serializer="raw")

    def connect() -> BatchProcessor:
        conn = _connection()
        return BatchProcessor(settings, conn, EstimateCache.for_database(settings.redis_url, conn), metrics)

    def connect_estimator() -> Estimator:
        conn = _connection()
        return Estimator(conn, EstimateCache.for_database(settings.redis_url, conn), metrics)

    def _connection() -> psycopg.Connection:
        return connect_waiting(settings.database_url, log)

    @app.agent(raw, name="ingest")
    async def ingest(stream):
        """Two stages in two threads: batch N+1 is decoded, validated and stored while batch N's
        accounts are re-rated. A batch is acknowledged only after both stages finished with it."""
        loop = asyncio.get_running_loop()
        batches = SafeBatches(connect, metrics, connect_estimator=connect_estimator)
        store_stage = ThreadPoolExecutor(1, thread_name_prefix="m2c-store")
        estimate_stage = ThreadPoolExecutor(1, thread_name_prefix="m2c-estimate")
        in_flight: deque[asyncio.Future] = deque()
        async for events in stream.noack_take(settings.batch_max_messages, within=settings.batch_within_seconds):
            messages = [RawMessage(e.value, e.key, e.message.topic, e.message.partition, e.message.offset,
                                   e.message.timestamp) for e in events]
            outcome = await loop.run_in_executor(store_stage, batches.process, messages)
            for letter in outcome.dead_letters:
                await send_dead_letter(dlq, letter, settings.message_max_bytes)
            for record in outcome.exceptions:
                await exceptions.send(key=record.meter_no.encode(), value=exception_event(record))
            if outcome.dead_letters or outcome.exceptions:
                await app.producer.flush()  # delivered before the batch is acknowledged
            refreshed = loop.run_in_executor(estimate_stage, batches.refresh, outcome)
            refreshed.add_done_callback(lambda _, acked=events: loop.create_task(acknowledge(stream, acked)))
            in_flight.append(refreshed)
            while len(in_flight) > 1:  # at most one batch waits for its estimates while the next is stored
                await in_flight.popleft()


async def send_dead_letter(dlq, letter: DeadLetter, limit: int) -> None:
    key, value, headers = dead_letter_record(letter, limit)
    try:
        await dlq.send(key=key, value=value, headers=headers)
    except MessageSizeTooLargeError:  # the producer's own count of the record is larger than ours
        log.warning("dead letter of %s too large to republish: sent by reference", letter.message.offset)
        key, value, headers = dead_letter_record(letter, limit, by_reference=True)
        await dlq.send(key=key, value=value, headers=headers)


async def acknowledge(stream, events) -> None:
    for event in events:
        await stream.ack(event)
