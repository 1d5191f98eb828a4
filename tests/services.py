"""Fixtures for tests on the real services that scripts/services.sh starts (`make services`).

A service that does not answer is an error, never a silent skip.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis
from confluent_kafka.admin import AdminClient

from storage.tariffs import publish_builtin_tariffs
from config.settings import Settings
from storage.schema import migrate


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    settings = Settings.from_env()
    problems = []
    try:
        psycopg.connect(settings.database_url, connect_timeout=5).close()
    except psycopg.Error as error:
        problems.append(f"PostgreSQL at {settings.database_url}: {error}")
    try:
        redis.Redis.from_url(settings.redis_url, socket_timeout=5).ping()
    except redis.RedisError as error:
        problems.append(f"Redis at {settings.redis_url}: {error}")
    try:
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0}).list_topics(timeout=10)
    except Exception as error:
        problems.append(f"Kafka at {settings.kafka_bootstrap}: {error}")
    if problems:
        pytest.fail("services not running (start them with `make services`):\n" + "\n".join(problems),
                    pytrace=False)
    return settings


def fresh_settings(base_settings: Settings, prefix: str = "test") -> Settings:
    """Settings on a database of their own (migrated, tariffs published), unique topics, Redis db 3."""
    name = f"m2c_{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_settings.database_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    run = f"{prefix}.{uuid.uuid4().hex[:10]}"
    settings = replace(
        base_settings,
        database_url=urlunsplit(urlsplit(base_settings.database_url)._replace(path=f"/{name}")),
        redis_url=urlunsplit(urlsplit(base_settings.redis_url)._replace(path="/3")),
        topic_raw=f"{run}.ami.reads.raw", topic_exceptions=f"{run}.ami.reads.exceptions",
        topic_dlq=f"{run}.ami.reads.dlq", app_id=f"{run}.streams")
    with psycopg.connect(settings.database_url) as conn:
        migrate(conn)
        conn.autocommit = True
        publish_builtin_tariffs(conn)
    redis.Redis.from_url(settings.redis_url).flushdb()
    return settings


def drop_fresh(base_settings: Settings, settings: Settings) -> None:
    name = urlsplit(settings.database_url).path.lstrip("/")
    with psycopg.connect(base_settings.database_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
    admin_client = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    run = settings.topic_raw.rsplit(".ami.reads.raw", 1)[0]
    mine = [t for t in admin_client.list_topics(timeout=10).topics if t.startswith(run)]
    if mine:
        admin_client.delete_topics(mine)


@pytest.fixture
def settings(base_settings: Settings):
    """A fresh database (migrated, tariffs published), unique topics and an empty Redis database."""
    settings = fresh_settings(base_settings)
    yield settings
    drop_fresh(base_settings, settings)


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port that keeps what it receives."""
    from scenarios.mailsink import MailSink

    sink = MailSink()
    sink.start()
    yield sink
    sink.stop()
