"""One settings object, read from the environment at an entrypoint and passed down from there."""
from __future__ import annotations

import os
from dataclasses import dataclass

KAFKA_RECORD_OVERHEAD = 64 * 1024  # headers (a dead letter's reason and source) and record-batch framing


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: str = "postgresql://m2c@127.0.0.1:55432/m2c"
    redis_url: str = "redis://127.0.0.1:6380/0"
    utility_zone: str = "America/Chicago"
    currency: str = "USD"
    topic_raw: str = "ami.reads.raw"
    topic_exceptions: str = "ami.reads.exceptions"
    topic_dlq: str = "ami.reads.dlq"
    topic_partitions: int = 4
    app_id: str = "meter2cash-streams"
    batch_max_messages: int = 2000
    # a batch is taken when it is full or this long after its first message: short, so a read reaches its
    # estimate quickly under a steady load (at full load batches fill to batch_max_messages anyway)
    batch_within_seconds: float = 0.05
    future_tolerance_seconds: int = 300
    metrics_address: str = "127.0.0.1"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "billing@meter2cash.invalid"
    output_dir: str = ".m2c/output"  # print batches and manifests
    billing_entities: str = ""  # a TOML file of billing entities (default: the packaged one)
    close_cycles_every_s: float = 300.0  # how often a streams worker closes due billing cycles; 0: never
    push_tokens: str = ""  # head-ends allowed to push blocks over HTTP: NAME:SHA256HEX,...
    # the largest message (key + value) any topic of the pipeline takes: the one setting behind the
    # broker's message.max.bytes, every topic's max.message.bytes and every client's request and fetch
    # sizes (scripts/services.sh reads the same variable for the broker)
    message_max_bytes: int = 4 * 1024 * 1024

    @property
    def kafka_record_limit(self) -> int:
        """Bytes a record may take on the wire: the message, its headers and the batch's framing."""
        return self.message_max_bytes + KAFKA_RECORD_OVERHEAD

    def to_env(self) -> dict[str, str]:
        """The environment that makes :meth:`from_env` return these settings (for child processes)."""
        return {
            "M2C_KAFKA": self.kafka_bootstrap, "M2C_DATABASE_URL": self.database_url,
            "M2C_REDIS_URL": self.redis_url, "M2C_ZONE": self.utility_zone, "M2C_CURRENCY": self.currency,
            "M2C_TOPIC_RAW": self.topic_raw, "M2C_TOPIC_EXCEPTIONS": self.topic_exceptions,
            "M2C_TOPIC_DLQ": self.topic_dlq, "M2C_TOPIC_PARTITIONS": str(self.topic_partitions),
            "M2C_APP_ID": self.app_id, "M2C_BATCH_MAX": str(self.batch_max_messages),
            "M2C_BATCH_WITHIN": str(self.batch_within_seconds),
            "M2C_METRICS_ADDRESS": self.metrics_address,
            "M2C_SMTP_HOST": self.smtp_host, "M2C_SMTP_PORT": str(self.smtp_port), "M2C_SMTP_FROM": self.smtp_from,
            "M2C_OUTPUT_DIR": self.output_dir, "M2C_BILLING_ENTITIES": self.billing_entities,
            "M2C_CLOSE_CYCLES_EVERY": str(self.close_cycles_every_s), "M2C_PUSH_TOKENS": self.push_tokens,
            "M2C_MESSAGE_MAX_BYTES": str(self.message_max_bytes),
        }

    @classmethod
    def from_env(cls, environ: dict | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            kafka_bootstrap=env.get("M2C_KAFKA", defaults.kafka_bootstrap),
            database_url=env.get("M2C_DATABASE_URL", defaults.database_url),
            redis_url=env.get("M2C_REDIS_URL", defaults.redis_url),
            utility_zone=env.get("M2C_ZONE", defaults.utility_zone),
            currency=env.get("M2C_CURRENCY", defaults.currency),
            topic_raw=env.get("M2C_TOPIC_RAW", defaults.topic_raw),
            topic_exceptions=env.get("M2C_TOPIC_EXCEPTIONS", defaults.topic_exceptions),
            topic_dlq=env.get("M2C_TOPIC_DLQ", defaults.topic_dlq),
            topic_partitions=int(env.get("M2C_TOPIC_PARTITIONS", defaults.topic_partitions)),
            app_id=env.get("M2C_APP_ID", defaults.app_id),
            batch_max_messages=int(env.get("M2C_BATCH_MAX", defaults.batch_max_messages)),
            batch_within_seconds=float(env.get("M2C_BATCH_WITHIN", defaults.batch_within_seconds)),
            metrics_address=env.get("M2C_METRICS_ADDRESS", defaults.metrics_address),
            smtp_host=env.get("M2C_SMTP_HOST", defaults.smtp_host),
            smtp_port=int(env.get("M2C_SMTP_PORT", defaults.smtp_port)),
            smtp_from=env.get("M2C_SMTP_FROM", defaults.smtp_from),
            output_dir=env.get("M2C_OUTPUT_DIR", defaults.output_dir),
            billing_entities=env.get("M2C_BILLING_ENTITIES", defaults.billing_entities),
            close_cycles_every_s=float(env.get("M2C_CLOSE_CYCLES_EVERY", defaults.close_cycles_every_s)),
            push_tokens=env.get("M2C_PUSH_TOKENS", defaults.push_tokens),
            message_max_bytes=int(env.get("M2C_MESSAGE_MAX_BYTES", defaults.message_max_bytes)),
        )
