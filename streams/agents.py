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

from meter2cash.settings import Settings
from storage.cache import EstimateCache
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

    - a database that is down is waited for: the batch is retried with a new connection;
    - a batch that fails for any other reason is split into single messages, and a message that fails
      alone goes to the dead-letter topic with the error.
    """

    def __init__(self, connect: Callable[[], BatchProcessor], metrics: StreamMetrics,
                 sleep: Callable[[float], None] = time.sleep, connect_estimator: Callable[[], Estimator] | None = None):
        self._connect = connect
        self._connect_estimator = connect_estimator
        self._metrics = metrics
        self._sleep = sleep
        self._processor: BatchProcessor | None = None
        self._estimator: Estimator | None = None

    def refresh(self, outcome: BatchOutcome) -> int:
        """The estimate stage, on a connection of its own; waits out a database outage."""
        while True:
            if self._estimator is None:
                self._estimator = self._connect_estimator()
            try:
                written = self._estimator.refresh(outcome.stored.touched)
                self._metrics.observe_estimated(outcome.first_append, outcome.newest_read_end, time.time())
                return written
            except psycopg.OperationalError as error:
                log.warning("database error in the estimate stage (%s); reconnecting", error)
                self._estimator = None
                self._sleep(1.0)

    def _process_batch(self, messages: list[RawMessage]) -> BatchOutcome:
        while True:
            if self._processor is None:
                self._processor = self._connect()
            try:
                return self._processor.process(messages, refresh=self._connect_estimator is None)
            except psycopg.OperationalError as error:
                log.warning("database error (%s); reconnecting and retrying the batch", error)
                self._metrics.db_retries.inc()
                self._processor = None
                self._sleep(1.0)

    def process(self, messages: list[RawMessage]) -> BatchOutcome:
        try:
            return self._process_batch(messages)
        except Exception:
            log.exception("batch of %d messages failed; processing them one by one", len(messages))
        combined = BatchOutcome(messages=len(messages))
        for message in messages:
            try:
                outcome = self._process_batch([message])
            except Exception as error:
                log.exception("message %s/%s/%s failed", message.topic, message.partition, message.offset)
                self._metrics.dlq_messages.labels("processing_error").inc()
                combined.dead_letters.append(DeadLetter(message, "processing_error", repr(error)[:500]))
                continue
            combined.merge(outcome)
        return combined


def register(app: faust.App, settings: Settings, metrics: StreamMetrics) -> None:
    raw = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    dlq = app.topic(settings.topic_dlq, value_serializer="raw", key_serializer="raw")
    exceptions = app.topic(settings.topic_exceptions, value_serializer="raw", key_serializer="raw")

    def connect() -> BatchProcessor:
        return BatchProcessor(settings, _connection(), EstimateCache.from_url(settings.redis_url), metrics)

    def connect_estimator() -> Estimator:
        return Estimator(_connection(), EstimateCache.from_url(settings.redis_url), metrics)

    def _connection() -> psycopg.Connection:
        while True:
            try:
                return psycopg.connect(settings.database_url, autocommit=True)
            except psycopg.OperationalError as error:
                log.warning("database unavailable (%s); retrying", error)
                time.sleep(1.0)

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
                source = letter.message
                await dlq.send(key=source.key, value=source.value or b"", headers=[
                    ("m2c-reason", letter.reason.encode()), ("m2c-detail", letter.detail.encode()[:1000]),
                    ("m2c-source", f"{source.topic}/{source.partition}/{source.offset}".encode())])
            for record in outcome.exceptions:
                await exceptions.send(key=record.meter_no.encode(), value=exception_event(record))
            if outcome.dead_letters or outcome.exceptions:
                await app.producer.flush()  # delivered before the batch is acknowledged
            refreshed = loop.run_in_executor(estimate_stage, batches.refresh, outcome)
            refreshed.add_done_callback(lambda _, acked=events: loop.create_task(acknowledge(stream, acked)))
            in_flight.append(refreshed)
            while len(in_flight) > 1:  # at most one batch waits for its estimates while the next is stored
                await in_flight.popleft()


async def acknowledge(stream, events) -> None:
    for event in events:
        await stream.ack(event)
