"""The dead-letter topic as an operator sees it: list its letters, show one, and replay a chosen set
through the normal pipeline (``m2c dlq``).

A replay republishes a letter's message unchanged to the raw topic with its original append time (so
that a block with no version of its own keeps the version it first had, and cannot replace a
correction that came after it), and records who replayed which letter and why. The merge is
idempotent, so replaying a letter twice changes nothing; a letter already replayed is skipped unless
asked again. A letter kept by reference (its message was too large to republish) has no body to
replay: it is counted and left. The worker writes letters with :func:`dead_letter_record`, beside the
reader of its headers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from config.settings import Settings
from streams.errors import DlqError  # noqa: F401  (raised here; callers import it from here)


REFERENCE_BYTES = 1024  # what a dead letter by reference keeps of the message's body


def dead_letter_record(letter, limit: int, by_reference: bool = False) -> tuple[bytes | None, bytes, list]:
    """(key, value, headers) of ``letter`` (a ``streams.pipeline.DeadLetter``) on the dead-letter topic:
    the message unchanged with the reason and its source in headers, or - when that would not fit in
    ``limit`` bytes (a topic that took a larger message than the pipeline's limit) or ``by_reference`` -
    its source (topic/partition/offset), its size and its first KiB, so that an oversized message is
    dead-lettered instead of stopping its partition."""
    source = letter.message
    key, value = source.key, source.value or b""
    headers = [("m2c-reason", letter.reason.encode()), ("m2c-detail", letter.detail.encode()[:1000]),
               ("m2c-source", f"{source.topic}/{source.partition}/{source.offset}".encode())]
    if source.timestamp is not None:
        headers.append(("m2c-source-time", str(int(source.timestamp * 1000)).encode()))
    size = len(key or b"") + len(value) + sum(len(k) + len(v) for k, v in headers)
    if size <= limit and not by_reference:
        return key, value, headers
    headers += [("m2c-body", b"reference"), ("m2c-size", str(len(value)).encode())]
    return (key or b"")[:REFERENCE_BYTES] or None, value[:REFERENCE_BYTES], headers


@dataclass(frozen=True)
class Letter:
    partition: int
    offset: int
    timestamp_ms: int  # when the letter was appended to the dead-letter topic
    key: bytes | None
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return self.headers.get("m2c-reason", "unknown")

    @property
    def detail(self) -> str:
        return self.headers.get("m2c-detail", "")

    @property
    def source(self) -> str:
        return self.headers.get("m2c-source", "")

    @property
    def by_reference(self) -> bool:
        return self.headers.get("m2c-body") == "reference"

    @property
    def size(self) -> int:
        """Bytes of the original message's value (a letter by reference keeps only its first KiB)."""
        return int(self.headers.get("m2c-size", len(self.value)))

    @property
    def source_time_ms(self) -> int | None:
        value = self.headers.get("m2c-source-time")
        return int(value) if value and value.isdigit() else None

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, timezone.utc)

    def summary(self) -> dict:
        return {"partition": self.partition, "offset": self.offset, "at": self.at.isoformat(),
                "reason": self.reason, "detail": self.detail, "source": self.source, "size": self.size,
                "by_reference": self.by_reference, "key": (self.key or b"").decode("utf-8", "replace")}


def read_letters(settings: Settings, timeout: float = 10.0) -> list[Letter]:
    """Every letter in the dead-letter topic, oldest first per partition."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"{settings.app_id}.dlq-reader",
                         "enable.auto.commit": False, "fetch.message.max.bytes": settings.kafka_record_limit,
                         "fetch.max.bytes": settings.kafka_record_limit,
                         "receive.message.max.bytes": settings.kafka_record_limit + 1024 * 1024})
    try:
        topics = consumer.list_topics(settings.topic_dlq, timeout=timeout).topics
        meta = topics.get(settings.topic_dlq)
        if meta is None or meta.error is not None:
            return []
        ends, assignment = {}, []
        for partition in meta.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(settings.topic_dlq, partition), timeout=timeout)
            if high > low:
                ends[partition] = high
                assignment.append(TopicPartition(settings.topic_dlq, partition, low))
        letters: list[Letter] = []
        if not assignment:
            return letters
        consumer.assign(assignment)
        reached: dict[int, int] = {}
        while any(reached.get(p, -1) < end - 1 for p, end in ends.items()):
            message = consumer.poll(timeout)
            if message is None:
                raise DlqError("dlq_unreadable", f"no answer from {settings.topic_dlq} in {timeout:.0f} s")
            if message.error() is not None:
                continue
            headers = {k: (v or b"").decode("utf-8", "replace") for k, v in (message.headers() or [])}
            letters.append(Letter(message.partition(), message.offset(), message.timestamp()[1], message.key(),
                                  message.value() or b"", headers))
            reached[message.partition()] = message.offset()
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    finally:
        consumer.close()


def select(letters: list[Letter], reason: str | None = None, since: datetime | None = None,
           until: datetime | None = None) -> list[Letter]:
    """The letters of ``reason`` appended in [since, until) (each bound optional)."""
    return [letter for letter in letters if (reason is None or letter.reason == reason)
            and (since is None or letter.at >= since) and (until is None or letter.at < until)]


def find(letters: list[Letter], partition: int, offset: int) -> Letter:
    for letter in letters:
        if letter.partition == partition and letter.offset == offset:
            return letter
    raise DlqError("no_such_letter", f"no letter at {partition}/{offset} of the dead-letter topic")


@dataclass
class Replay:
    selected: int = 0
    replayed: int = 0
    already_replayed: int = 0
    by_reference: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def replay(settings: Settings, letters: list[Letter], replayed_before: set[tuple[int, int]], again: bool = False,
           dry_run: bool = False) -> tuple[Replay, list[Letter]]:
    """Republish ``letters`` to the raw topic (unless ``dry_run``), each with its original append time;
    returns the counts and the letters sent, every one acknowledged by the broker."""
    outcome = Replay(selected=len(letters))
    chosen = []
    for letter in letters:
        if letter.by_reference:
            outcome.by_reference += 1
        elif (letter.partition, letter.offset) in replayed_before and not again:
            outcome.already_replayed += 1
        else:
            chosen.append(letter)
            outcome.by_reason[letter.reason] = outcome.by_reason.get(letter.reason, 0) + 1
    if dry_run or not chosen:
        return outcome, chosen
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True, "acks": "all",
                         "message.max.bytes": settings.kafka_record_limit, "log_level": 3})
    failures: list[str] = []

    def delivered(error, _message) -> None:
        if error is not None:
            failures.append(str(error))

    for letter in chosen:
        producer.produce(settings.topic_raw, value=letter.value, key=letter.key, on_delivery=delivered,
                         timestamp=letter.source_time_ms or 0,
                         headers=[("m2c-replayed-from", f"{settings.topic_dlq}/{letter.partition}/{letter.offset}")])
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining or failures:
        raise KafkaException(f"{remaining + len(failures)} of {len(chosen)} letters not republished: "
                             f"{(failures or ['broker did not answer'])[0]}")
    outcome.replayed = len(chosen)
    return outcome, chosen
