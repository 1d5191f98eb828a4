"""A broker that stays away: publishing says how many messages were not delivered, in one sentence."""
import pytest

from meterdata.codec import Message
from streams.producer import NotDelivered, publish


def test_a_broker_that_stays_away_gets_a_count_of_what_was_not_delivered():
    messages = [Message(b"E1", b"x" * 10) for _ in range(25)]
    with pytest.raises(NotDelivered) as raised:
        publish("127.0.0.1:1", "ami.reads.raw", messages, timeout=2)  # nothing listens there
    assert raised.value.code == "not_delivered" and (raised.value.sent, raised.value.missing) == (25, 25)
    assert str(raised.value).startswith("25 of 25 messages were not delivered")
    assert "running the same command again" in str(raised.value)
