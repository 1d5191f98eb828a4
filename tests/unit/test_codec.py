import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from meterdata.codec import Block, BlockBatch, DecodeError, decode, encode_binary, encode_json

START = 1_792_000_800  # 2026-10-13T05:20:00Z, a multiple of 900


def block(values, quality=None, meter="E0000001", interval=900, start=START, channel=1):
    values = np.asarray(values, dtype=np.int64)
    quality = np.zeros(len(values), np.uint8) if quality is None else np.asarray(quality, np.uint8)
    return Block(meter, channel, start, interval, values, quality)


@pytest.mark.parametrize("encode", [encode_binary, encode_json])
def test_both_encodings_decode_to_the_same_block(encode):
    original = block([0, 5, 2**40, -3], quality=[0, 1, 0, 2])
    decoded = decode(encode(original))
    assert (decoded.meter_id, decoded.channel, decoded.start, decoded.interval_s) == ("E0000001", 1, START, 900)
    assert decoded.values.tolist() == [0, 5, 2**40, -3]
    assert decoded.quality.tolist() == [0, 1, 0, 2]


def test_binary_uses_int32_when_values_fit():
    small = encode_binary(block(range(96)))
    large = encode_binary(block([2**33] * 96))
    assert len(large) - len(small) == 96 * 4


def test_json_form_is_what_a_command_line_client_would_write():
    local = datetime.fromtimestamp(START, timezone(timedelta(hours=-5))).isoformat()
    text = ('{"meter_id":"W1","channel":1,"start":"%s","interval_s":900,"values":[1,2]}' % local).encode()
    decoded = decode(text)
    assert decoded.start == START and decoded.values.tolist() == [1, 2]


def test_batch_columns_and_interval_starts():
    batch = BlockBatch.from_blocks([decode(encode_binary(block([1, 2, 3]))),
                                    decode(encode_json(block([7], meter="G1", interval=3600, start=START + 3600)))])
    assert batch.offsets.tolist() == [0, 3, 4]
    assert batch.values.tolist() == [1, 2, 3, 7]
    assert batch.interval_starts().tolist() == [START, START + 900, START + 1800, START + 3600]
    assert batch.read_count == 4 and batch.meter_ids == ["E0000001", "G1"]


@pytest.mark.parametrize("message, reason", [
    (b"", "empty"),
    (None, "empty"),
    (b"hello", "unknown_format"),
    (b"{not json", "bad_json"),
    (b"[1, 2]", "bad_json"),
    (b'{"meter_id": "E1"}', "missing_field"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[1.5]}',
     "non_integer_value"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[NaN]}',
     "not_finite"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00","interval_s":900,"values":[1]}',
     "bad_timestamp"),
    (b'{"meter_id":"E1","channel":1,"start":"1970-01-01T00:00:00Z","interval_s":900,"values":[1]}',
     "bad_timestamp"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":7,"values":[1]}',
     "bad_interval"),
    (b'{"meter_id":"E 1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[1]}',
     "bad_meter_id"),
    (b'{"meter_id":"E1","channel":0,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[1]}',
     "bad_channel"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[]}',
     "no_values"),
    (b'{"meter_id":"E1","channel":true,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[1]}',
     "bad_type"),
    (b'{"meter_id":"E1","channel":1,"start":"2026-10-13T05:15:00Z","interval_s":900,"values":[1],"quality":[0,0]}',
     "bad_quality"),
])
def test_bad_messages_have_a_reason(message, reason):
    with pytest.raises(DecodeError) as raised:
        decode(message)
    assert raised.value.reason == reason


def test_binary_truncation_and_trailing_bytes_are_caught():
    good = encode_binary(block([1, 2, 3]))
    for cut in range(1, len(good)):
        with pytest.raises(DecodeError):
            decode(good[:cut])
    with pytest.raises(DecodeError) as raised:
        decode(good + b"\x00")
    assert raised.value.reason == "trailing_bytes"


def test_too_many_values_is_refused():
    document = {"meter_id": "E1", "channel": 1, "start": "2026-10-13T05:15:00Z", "interval_s": 60,
                "values": [1] * 10_001}
    with pytest.raises(DecodeError) as raised:
        decode(json.dumps(document).encode())
    assert raised.value.reason == "too_many_values"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_fail_with_a_decode_error(data):
    for message in (data, b"MB\x01" + data, b"{" + data):
        try:
            decode(message)
        except DecodeError as error:
            assert error.reason


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**53), 2**53), min_size=1, max_size=200), st.sampled_from([300, 900, 3600]))
def test_round_trip_any_values(values, interval):
    original = block(values, interval=interval, start=START - START % interval)
    for encode in (encode_binary, encode_json):
        assert decode(encode(original)).values.tolist() == values


def test_a_block_version_survives_both_encodings_and_bad_versions_are_refused():
    import json as json_module

    import numpy as np

    from meterdata.codec import NO_VERSION, Block, BlockBatch, DecodeError, decode, encode_binary, encode_json

    block = Block("E1", 1, 1_790_000_100, 900, np.array([1, 2, 3]), np.zeros(3, np.uint8), version=1_790_000_999_123)
    for encoded in (encode_binary(block), encode_json(block)):
        assert decode(encoded).version == 1_790_000_999_123
    plain = Block("E1", 1, 1_790_000_100, 900, np.array([1]), np.zeros(1, np.uint8))
    assert decode(encode_binary(plain)).version is None and decode(encode_json(plain)).version is None
    batch = BlockBatch.from_blocks([decode(encode_binary(block)), decode(encode_binary(plain))])
    assert batch.version.tolist() == [1_790_000_999_123, NO_VERSION]
    assert batch.block(0).version == 1_790_000_999_123 and batch.block(1).version is None
    document = json_module.loads(encode_json(block))
    for bad in (-1, 2**63, "7", 1.5, True):
        document["version"] = bad
        try:
            decode(json_module.dumps(document).encode())
        except DecodeError as error:
            assert error.reason in ("bad_version", "bad_type"), bad
        else:
            raise AssertionError(f"version {bad!r} was taken")
    truncated = encode_binary(block)[:25]
    try:
        decode(truncated)
    except DecodeError as error:
        assert error.reason == "truncated"
