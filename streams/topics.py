"""Create the pipeline's topics (idempotent) with the Kafka admin client."""
from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from config.settings import Settings


def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; returns the names created."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = {
        settings.topic_raw: settings.topic_partitions,
        settings.topic_exceptions: settings.topic_partitions,
        settings.topic_dlq: 1,
    }
    limit = {"max.message.bytes": str(settings.kafka_record_limit)}
    new = [NewTopic(name, num_partitions=partitions, replication_factor=1, config=limit)
           for name, partitions in wanted.items() if name not in existing]
    created = []
    for name, future in admin.create_topics(new, operation_timeout=timeout).items() if new else []:
        try:
            future.result(timeout)
            created.append(name)
        except Exception as error:  # created meanwhile by another process: fine
            if "TOPIC_ALREADY_EXISTS" not in str(error):
                raise
    return created
