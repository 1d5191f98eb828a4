"""One settings object, read from the environment at an entrypoint and passed down from there."""
from __future__ import annotations

import os
from dataclasses import dataclass


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
    batch_within_seconds: float = 0.25
    future_tolerance_seconds: int = 300
    metrics_address: str = "127.0.0.1"

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
        )
