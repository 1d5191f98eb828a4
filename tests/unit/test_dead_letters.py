"""A dead letter is the message unchanged with its reason, or - when that would not fit the pipeline's
message limit - a reference to it with its first KiB: never a send that fails and stops the partition."""
from streams.dlq import REFERENCE_BYTES, dead_letter_record
from streams.pipeline import DeadLetter, RawMessage


def letter(value: bytes) -> DeadLetter:
    message = RawMessage(value, b"E0000001", "ami.reads.raw", 2, 41, 1_790_000_000.25)
    return DeadLetter(message, "bad_json", "Expecting value: line 1 column 1")


def test_a_message_that_fits_is_dead_lettered_whole_with_its_reason_and_source():
    key, value, headers = dead_letter_record(letter(b"junk" * 100), limit=4 * 1024 * 1024)
    assert (key, value) == (b"E0000001", b"junk" * 100)
    assert dict(headers) == {"m2c-reason": b"bad_json", "m2c-detail": b"Expecting value: line 1 column 1",
                             "m2c-source": b"ami.reads.raw/2/41", "m2c-source-time": b"1790000000250"}


def test_a_message_too_large_to_republish_is_dead_lettered_by_reference():
    body = b"{" + b"x" * (3 * 1024 * 1024)
    key, value, headers = dead_letter_record(letter(body), limit=1024 * 1024)
    assert value == body[:REFERENCE_BYTES] and key == b"E0000001"
    found = dict(headers)
    assert found["m2c-body"] == b"reference" and found["m2c-size"] == str(len(body)).encode()
    assert found["m2c-source"] == b"ami.reads.raw/2/41" and found["m2c-reason"] == b"bad_json"
    # a message just under the limit whose headers push it over goes by reference too
    near = b"x" * (1024 * 1024 - 20)
    assert dict(dead_letter_record(letter(near), limit=1024 * 1024)[2]).get("m2c-body") == b"reference"
