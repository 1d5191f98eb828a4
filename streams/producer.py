"""Publish messages to Kafka (confluent-kafka), idempotent producer, all acknowledged."""
from __future__ import annotations

from typing import Iterable

from confluent_kafka import KafkaException, Producer

from streams.codec import Message


def publish(bootstrap: str, topic: str, messages: Iterable[Message], on_progress=None) -> int:
    """Send every message; returns how many the broker acknowledged. Raises if any was refused."""
    producer = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 500_000,
        "queue.buffering.max.kbytes": 1_048_576,
        "log_level": 3,  # errors only: transient broker warnings are retried by the client
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
    remaining = producer.flush(60)
    if remaining or failures:
        raise KafkaException(f"{remaining} messages not delivered; failures: {failures[:5]}")
    return acknowledged
