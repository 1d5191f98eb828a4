"""Wire format of ``ami.reads.raw``: one message = one block of consecutive intervals of one meter.

Two encodings decode to the same :class:`BlockBatch` of NumPy columns (see docs/wire-format.md):

- JSON, for head-end adapters and command-line clients::

    {"meter_id": "E0000001", "channel": 1, "start": "2026-10-01T05:00:00Z",
     "interval_s": 900, "values": [120, 118, ...], "quality": [0, 0, ...]}

- binary (little-endian), for volume: magic ``MB``, version 1, flags, meter id, channel,
  start (epoch seconds), interval seconds, count, values (int32 or int64), optional quality bytes.

Decoding never raises anything but :class:`DecodeError`, whose ``reason`` is a short code that
goes with the message to the dead-letter topic.
"""
from __future__ import annotations

import json
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from meterdata.errors import MeterDataError

MAGIC = b"MB"
VERSION = 1
FLAG_QUALITY = 0x01
FLAG_INT32 = 0x02
FLAG_VERSION = 0x04  # an int64 version follows the block header
NO_VERSION = -1  # in BlockBatch.version: the block carried none (the pipeline gives it its arrival time)
MAX_BLOCK_VERSION = 2**63 - 1
MAX_VALUES = 10_000  # a block longer than ~100 days of 15-minute reads is not a block
MAX_METER_ID = 64
MAX_CHANNEL = 255
ALLOWED_INTERVALS = (60, 300, 600, 900, 1800, 3600, 86400)
MIN_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z: earlier timestamps are not AMI data
MAX_EPOCH = 4_102_444_800  # 2100-01-01T00:00:00Z
MAX_ABS_VALUE = 2**53  # kernels may work on float64 views: keep values exact there
_METER_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")
_HEADER = struct.Struct("<2sBBB")
_TAIL = struct.Struct("<BqIH")
_VERSION = struct.Struct("<q")


class DecodeError(MeterDataError):
    """A message that cannot be decoded; ``reason`` (its ``code``) is a stable machine-readable code."""

    code = "undecodable"

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}", code=reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Block:
    meter_id: str
    channel: int
    start: int  # epoch seconds, UTC
    interval_s: int
    values: np.ndarray  # int64
    quality: np.ndarray  # uint8, 0 = actual
    # which reading of these intervals this is, as the source counts (its read time in epoch ms, or a
    # sequence): a stored value is replaced only by one of the same or a newer version (docs/wire-format.md)
    version: int | None = None

    @property
    def end(self) -> int:
        return self.start + self.interval_s * len(self.values)


@dataclass(frozen=True)
class Message:
    """A Kafka message as a producer sends it: key = meter number, value = an encoded block."""

    key: bytes
    value: bytes


@dataclass
class BlockBatch:
    """Blocks as columns. Block ``b`` owns ``values[offsets[b]:offsets[b + 1]]``."""

    meter_ids: list[str]
    channel: np.ndarray  # int16 per block
    start: np.ndarray  # int64 per block, epoch seconds
    interval_s: np.ndarray  # int32 per block
    offsets: np.ndarray  # int64, len = blocks + 1
    values: np.ndarray  # int64 per interval
    quality: np.ndarray  # uint8 per interval
    version: np.ndarray | None = None  # int64 per block, NO_VERSION where the block carried none

    def __len__(self) -> int:
        return len(self.meter_ids)

    @property
    def read_count(self) -> int:
        return int(self.offsets[-1])

    def block(self, index: int) -> Block:
        lo, hi = self.offsets[index], self.offsets[index + 1]
        version = int(self.version[index]) if self.version is not None else NO_VERSION
        return Block(self.meter_ids[index], int(self.channel[index]), int(self.start[index]),
                     int(self.interval_s[index]), self.values[lo:hi], self.quality[lo:hi],
                     None if version == NO_VERSION else version)

    def interval_starts(self) -> np.ndarray:
        """Epoch seconds of every interval, aligned with ``values``."""
        counts = np.diff(self.offsets)
        block_of = np.repeat(np.arange(len(self)), counts)
        position = np.arange(self.read_count) - self.offsets[:-1][block_of]
        return self.start[block_of] + position * self.interval_s[block_of].astype(np.int64)

    @classmethod
    def from_blocks(cls, blocks: list[Block]) -> "BlockBatch":
        counts = np.fromiter((len(b.values) for b in blocks), dtype=np.int64, count=len(blocks))
        offsets = np.zeros(len(blocks) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            meter_ids=[b.meter_id for b in blocks],
            channel=np.fromiter((b.channel for b in blocks), dtype=np.int16, count=len(blocks)),
            start=np.fromiter((b.start for b in blocks), dtype=np.int64, count=len(blocks)),
            interval_s=np.fromiter((b.interval_s for b in blocks), dtype=np.int32, count=len(blocks)),
            offsets=offsets,
            values=np.concatenate([b.values for b in blocks]) if blocks else np.zeros(0, np.int64),
            quality=np.concatenate([b.quality for b in blocks]) if blocks else np.zeros(0, np.uint8),
            version=np.fromiter((NO_VERSION if b.version is None else b.version for b in blocks), dtype=np.int64,
                                count=len(blocks)),
        )


# ------------------------------------------------------------------ encoding
def encode_binary(block: Block) -> bytes:
    meter = block.meter_id.encode()
    values = np.asarray(block.values, dtype=np.int64)
    flags = 0
    if len(values) and values.min() >= -(2**31) and values.max() < 2**31:
        flags |= FLAG_INT32
        payload = values.astype("<i4").tobytes()
    else:
        payload = values.astype("<i8").tobytes()
    quality = np.asarray(block.quality, dtype=np.uint8)
    if quality.any():
        flags |= FLAG_QUALITY
        payload += quality.tobytes()
    if block.version is not None:
        flags |= FLAG_VERSION
        payload = _VERSION.pack(block.version) + payload
    header = _HEADER.pack(MAGIC, VERSION, flags, len(meter)) + meter
    return header + _TAIL.pack(block.channel, block.start, block.interval_s, len(values)) + payload


def encode_json(block: Block) -> bytes:
    document = {
        "meter_id": block.meter_id,
        "channel": block.channel,
        "start": datetime.fromtimestamp(block.start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "interval_s": block.interval_s,
        "values": [int(v) for v in block.values],
    }
    if np.asarray(block.quality).any():
        document["quality"] = [int(q) for q in block.quality]
    if block.version is not None:
        document["version"] = block.version
    return json.dumps(document, separators=(",", ":")).encode()


# ------------------------------------------------------------------ decoding
def decode(message: bytes | None) -> Block:
    if not message:
        raise DecodeError("empty", "message has no value")
    if message[:2] == MAGIC:
        return _decode_binary(message)
    if message[:1] in (b"{", b"[", b" ", b"\n", b"\t", b"\r"):
        return _decode_json(message)
    raise DecodeError("unknown_format", f"starts with {message[:4]!r}: neither JSON nor binary v1")


def _decode_binary(message: bytes) -> Block:
    if len(message) < _HEADER.size:
        raise DecodeError("truncated", "shorter than the header")
    _, version, flags, meter_len = _HEADER.unpack_from(message)
    if version != VERSION:
        raise DecodeError("unsupported_version", f"binary version {version}")
    if flags & ~(FLAG_QUALITY | FLAG_INT32 | FLAG_VERSION):
        raise DecodeError("bad_flags", f"unknown flag bits {flags:#x}")
    position = _HEADER.size
    if len(message) < position + meter_len + _TAIL.size:
        raise DecodeError("truncated", "shorter than the block header")
    try:
        meter_id = message[position:position + meter_len].decode()
    except UnicodeDecodeError as error:
        raise DecodeError("bad_meter_id", f"meter id is not UTF-8: {error}") from None
    position += meter_len
    channel, start, interval_s, count = _TAIL.unpack_from(message, position)
    position += _TAIL.size
    version = None
    if flags & FLAG_VERSION:
        if len(message) < position + _VERSION.size:
            raise DecodeError("truncated", "shorter than the block's version")
        (version,) = _VERSION.unpack_from(message, position)
        position += _VERSION.size
        _check_version(version)
    width = 4 if flags & FLAG_INT32 else 8
    expected = position + count * width + (count if flags & FLAG_QUALITY else 0)
    if len(message) != expected:
        raise DecodeError("truncated" if len(message) < expected else "trailing_bytes",
                          f"{len(message)} bytes, expected {expected} for {count} values")
    values = np.frombuffer(message, dtype="<i4" if width == 4 else "<i8", count=count, offset=position)
    position += count * width
    if flags & FLAG_QUALITY:
        quality = np.frombuffer(message, dtype=np.uint8, count=count, offset=position).copy()
    else:
        quality = np.zeros(count, dtype=np.uint8)
    return _checked(meter_id, channel, start, interval_s, values.astype(np.int64), quality, version)


def _check_version(version: int) -> None:
    if not 0 <= version <= MAX_BLOCK_VERSION:
        raise DecodeError("bad_version", f"version {version} is not 0..2^63-1")


def _decode_json(message: bytes) -> Block:
    try:
        document = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise DecodeError("bad_json", str(error)[:200]) from None
    return decode_object(document)


def decode_object(document: object) -> Block:
    """A block from a parsed JSON document (e.g. one item of an HTTP push request)."""
    if not isinstance(document, dict):
        raise DecodeError("bad_json", "top level is not an object")
    missing = [name for name in ("meter_id", "channel", "start", "interval_s", "values") if name not in document]
    if missing:
        raise DecodeError("missing_field", ", ".join(missing))
    meter_id = document["meter_id"]
    if not isinstance(meter_id, str):
        raise DecodeError("bad_meter_id", "meter_id is not a string")
    channel = _json_int(document["channel"], "channel")
    interval_s = _json_int(document["interval_s"], "interval_s")
    start = _parse_time(document["start"])
    values = document["values"]
    if not isinstance(values, list):
        raise DecodeError("bad_type", "values is not a list")
    if len(values) > MAX_VALUES:
        raise DecodeError("too_many_values", f"{len(values)} values, at most {MAX_VALUES}")
    quality = document.get("quality")
    if quality is not None and (not isinstance(quality, list) or len(quality) != len(values)):
        raise DecodeError("bad_quality", "quality must be a list as long as values")
    values_array = np.array([_json_value(v) for v in values], dtype=np.int64)
    if quality is None:
        quality_array = np.zeros(len(values), dtype=np.uint8)
    else:
        codes = [_json_int(q, "quality") for q in quality]
        if any(q < 0 or q > 255 for q in codes):
            raise DecodeError("bad_quality", "quality codes are 0..255")
        quality_array = np.array(codes, dtype=np.uint8)
    version = document.get("version")
    if version is not None:
        version = _json_int(version, "version")
        _check_version(version)
    return _checked(meter_id, channel, start, interval_s, values_array, quality_array, version)


def _json_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DecodeError("bad_type", f"{name} must be an integer, got {type(value).__name__}")
    return value


def _json_value(value: object) -> int:
    if isinstance(value, bool):
        raise DecodeError("bad_type", "a value is a boolean")
    if isinstance(value, int):
        if abs(value) > MAX_ABS_VALUE:
            raise DecodeError("value_out_of_range", f"{value} exceeds 2^53")
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise DecodeError("not_finite", "a value is NaN or infinite")
        raise DecodeError("non_integer_value",
                          f"{value!r}: values are integers in the meter's unit and resolution")
    raise DecodeError("bad_type", f"a value is {type(value).__name__}")


def _parse_time(value: object) -> int:
    if not isinstance(value, str):
        raise DecodeError("bad_timestamp", "start must be an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DecodeError("bad_timestamp", f"{value[:40]!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        raise DecodeError("bad_timestamp", "start has no UTC offset")
    if moment.microsecond:
        raise DecodeError("bad_timestamp", "start has fractions of a second")
    return int(moment.timestamp())


def _checked(meter_id: str, channel: int, start: int, interval_s: int,
             values: np.ndarray, quality: np.ndarray, version: int | None = None) -> Block:
    if not _METER_ID.match(meter_id):
        raise DecodeError("bad_meter_id", f"{meter_id[:80]!r} is not 1-64 of [A-Za-z0-9_.:-]")
    if not 1 <= channel <= MAX_CHANNEL:
        raise DecodeError("bad_channel", f"channel {channel} is not 1..{MAX_CHANNEL}")
    if interval_s not in ALLOWED_INTERVALS:
        raise DecodeError("bad_interval", f"interval {interval_s}s is not one of {ALLOWED_INTERVALS}")
    if not len(values):
        raise DecodeError("no_values", "a block has at least one value")
    if len(values) > MAX_VALUES:
        raise DecodeError("too_many_values", f"{len(values)} values, at most {MAX_VALUES}")
    if np.abs(values).max() > MAX_ABS_VALUE:
        raise DecodeError("value_out_of_range", "a value exceeds 2^53")
    end = start + interval_s * len(values)
    if not (MIN_EPOCH <= start and end <= MAX_EPOCH):
        raise DecodeError("bad_timestamp", f"block [{start}, {end}) is outside 2000..2100")
    return Block(meter_id, channel, start, interval_s, values, quality, version)
