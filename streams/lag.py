"""Consumer lag of the raw topic, per partition: the broker's end offset minus the group's committed
offset, read with a separate client every few seconds (it does not join the group)."""
from __future__ import annotations

import logging
import threading

from confluent_kafka import Consumer, TopicPartition

from config.settings import Settings
from streams.metrics import StreamMetrics

log = logging.getLogger(__name__)


def consumer_lag(consumer: Consumer, topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Messages not yet committed by ``consumer``'s group, per partition of ``topic``."""
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None:
        return {}
    partitions = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
    committed = {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=timeout)}
    lag = {}
    for tp in partitions:
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
        position = committed.get(tp.partition, -1)
        lag[tp.partition] = high - (position if position >= 0 else low)
    return lag


class LagReporter(threading.Thread):
    def __init__(self, settings: Settings, metrics: StreamMetrics, every: float = 5.0):
        super().__init__(name="m2c-lag", daemon=True)
        self._settings = settings
        self._metrics = metrics
        self._every = every
        self._stopped = threading.Event()

    def run(self) -> None:
        consumer = Consumer({"bootstrap.servers": self._settings.kafka_bootstrap, "group.id": self._settings.app_id,
                             "enable.auto.commit": False, "log_level": 3})
        try:
            while not self._stopped.wait(self._every):
                try:
                    for partition, lag in consumer_lag(consumer, self._settings.topic_raw).items():
                        self._metrics.consumer_lag.labels(str(partition)).set(lag)
                except Exception as error:  # the broker may be restarting: report next time
                    log.debug("consumer lag not read: %s", error)
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stopped.set()
