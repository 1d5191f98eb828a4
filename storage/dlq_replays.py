"""Which dead letters were replayed, by whom and why (``m2c dlq replay``)."""
from __future__ import annotations

import psycopg


def replayed(conn: psycopg.Connection, dlq_topic: str) -> dict[tuple[int, int], int]:
    """(partition, offset) of each letter of ``dlq_topic`` replayed before, and how many times."""
    return {(p, o): n for p, o, n in conn.execute(
        "select dlq_partition, dlq_offset, count(*) from dlq_replays where dlq_topic = %s group by 1, 2",
        (dlq_topic,))}


def record(conn: psycopg.Connection, dlq_topic: str, letters: list, replayed_to: str, actor: str, why: str) -> None:
    """One row per letter republished (``streams.dlq.Letter``)."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "insert into dlq_replays (dlq_topic, dlq_partition, dlq_offset, reason, source, replayed_to, actor, why) "
            "values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(dlq_topic, letter.partition, letter.offset, letter.reason, letter.source or None, replayed_to, actor,
              why) for letter in letters])
