"""The Faust application: topics and settings. Agents live in :mod:`streams.agents`."""
from __future__ import annotations

import tempfile
from pathlib import Path

import faust

from config.settings import Settings


def create_app(settings: Settings) -> faust.App:
    datadir = Path(tempfile.gettempdir()) / "meter2cash-streams" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        # nothing durable lives there (tables are in memory); keep it out of the working directory
        datadir=str(datadir),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=10_000,
        broker_commit_interval=1.0,
        broker_max_poll_records=settings.batch_max_messages,
        consumer_max_fetch_size=max(8 * 1024 * 1024, settings.kafka_record_limit),
        producer_max_request_size=settings.kafka_record_limit,
        stream_buffer_maxsize=2 * settings.batch_max_messages,
        producer_acks=-1,
        # a worker that dies is noticed within 10 s, so its partitions move to the others quickly
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        web_enabled=False,
    )
    app.conf.m2c = settings  # type: ignore[attr-defined]
    return app
