"""The ingest agent: take batches, hand them to the pipeline, publish dead letters and exceptions,
and only then let Faust acknowledge the batch."""
from __future__ import annotations

import asyncio
import json
import logging
import time

import faust
import psycopg

from meter2cash.settings import Settings
from storage.cache import EstimateCache
from streams.metrics import StreamMetrics
from streams.pipeline import BatchOutcome, BatchProcessor, RawMessage

log = logging.getLogger(__name__)


def exception_event(record) -> bytes:
    return json.dumps({
        "meter_id": record.meter_no, "channel": record.channel, "block_start": record.block_start,
        "interval_s": record.interval_s, "rules": record.rules, "severity": record.severity,
        "flagged_count": record.flagged_count, "values": record.values, "flags": record.flags,
    }, separators=(",", ":")).encode()


def register(app: faust.App, settings: Settings, metrics: StreamMetrics) -> None:
    raw = app.topic(settings.topic_raw, value_serializer="raw", key_serializer="raw")
    dlq = app.topic(settings.topic_dlq, value_serializer="raw", key_serializer="raw")
    exceptions = app.topic(settings.topic_exceptions, value_serializer="raw", key_serializer="raw")

    def connect() -> BatchProcessor:
        while True:
            try:
                conn = psycopg.connect(settings.database_url, autocommit=True)
                return BatchProcessor(settings, conn, EstimateCache.from_url(settings.redis_url), metrics)
            except psycopg.OperationalError as error:
                log.warning("database unavailable (%s); retrying", error)
                time.sleep(1.0)

    def process(processor_box: list, messages: list[RawMessage]) -> BatchOutcome:
        """Runs in a thread; retries until the batch is stored (never acknowledge an unstored batch)."""
        while True:
            if not processor_box:
                processor_box.append(connect())
            try:
                return processor_box[0].process(messages)
            except psycopg.OperationalError as error:
                log.warning("database error (%s); reconnecting and retrying the batch", error)
                metrics.db_retries.inc()
                processor_box.clear()
                time.sleep(1.0)

    @app.agent(raw, name="ingest")
    async def ingest(stream):
        loop = asyncio.get_running_loop()
        processor_box: list = []
        async for events in stream.take_events(settings.batch_max_messages, within=settings.batch_within_seconds):
            messages = [RawMessage(e.value, e.key, e.message.topic, e.message.partition, e.message.offset,
                                   e.message.timestamp) for e in events]
            outcome = await loop.run_in_executor(None, process, processor_box, messages)
            for letter in outcome.dead_letters:
                source = letter.message
                await dlq.send(key=source.key, value=source.value or b"", headers=[
                    ("m2c-reason", letter.reason.encode()), ("m2c-detail", letter.detail.encode()[:1000]),
                    ("m2c-source", f"{source.topic}/{source.partition}/{source.offset}".encode())])
            for record in outcome.exceptions:
                await exceptions.send(key=record.meter_no.encode(), value=exception_event(record))
            if outcome.dead_letters or outcome.exceptions:
                await app.producer.flush()  # delivered before the batch is acknowledged
