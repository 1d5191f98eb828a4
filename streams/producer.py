"""Publish messages to Kafka (confluent-kafka), idempotent producer, all acknowledged."""
from __future__ import annotations

from typing import Iterable

from confluent_kafka import KafkaException, Producer

from config.settings import Settings
from meterdata.codec import Message


def publish(bootstrap: str, topic: str, messages: Iterable[Message], on_progress=None,
            record_limit: int = Settings().kafka_record_limit, timeout: float = 60.0) -> int:
    """Send every message; returns how many the broker acknowledged. Raises if any was refused."""
    producer = Producer({
        "message.max.bytes": record_limit,
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "log_level": 0,  # quiet: a broker away is retried by the client, and said once by the caller
        "message.timeout.ms": int(timeout * 1000),
    })
    failures: list[str] = []
    acknowledged = 0

    def delivered(error, _message) -> None:
        nonlocal acknowledged
        if error is not None:
            failures.append(str(error))
        else:
            acknowledged += 1

    sent = 0
    for message in messages:
        while True:
            try:
                producer.produce(topic, value=message.value, key=message.key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
        if sent % 1000 == 0:
            producer.poll(0)
            if on_progress:
                on_progress(sent)
    remaining = producer.flush(timeout)
    if remaining or failures:
        raise NotDelivered(sent, sent - acknowledged,
                           failures[0] if failures else f"the broker did not answer in {timeout:g} s")
    return acknowledged


class NotDelivered(KafkaException):
    """Some messages were not acknowledged by the broker; publishing them again is safe (the merge is
    idempotent). ``code`` is stable."""

    code = "not_delivered"

    def __init__(self, sent: int, missing: int, reason: str):
        super().__init__(f"{missing:,} of {sent:,} messages were not delivered ({reason}); nothing is lost by "
                         "running the same command again")
        self.sent, self.missing = sent, missing

    def __str__(self) -> str:
        return str(self.args[0])
