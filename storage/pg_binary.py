"""PostgreSQL's binary wire forms of the day-row columns, built with NumPy instead of per element.

Used for ``COPY ... (format binary)`` of interval blocks and for reading stored arrays back through
``array_send()``. The formats are PostgreSQL's own (``array_send``/``array_recv``, ``COPY BINARY``).
"""
from __future__ import annotations

import struct

import numpy as np
import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format

COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
_POSTGRES_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_POSTGRES_EPOCH_SECONDS = 946_684_800
_ELEMENT = {np.dtype(np.int64): (20, ">i8", 8), np.dtype(np.int16): (21, ">i2", 2)}
_STRUCT = {8: ">iq", 2: ">ih"}


def array_bytes(values: np.ndarray, present: np.ndarray | None = None) -> bytes:
    """One-dimensional int8[] or int2[] (by ``values.dtype``); slots where ``present`` is False are NULL."""
    oid, wire, width = _ELEMENT[values.dtype]
    count = len(values)
    has_null = present is not None and not bool(present.all())
    header = struct.pack(">iiiii", 1, int(has_null), oid, count, 1)
    if not has_null:
        body = np.empty(count, dtype=[("length", ">i4"), ("value", wire)])
        body["length"] = width
        body["value"] = values
        return header + body.tobytes()
    null = struct.pack(">i", -1)
    parts = [header]
    for value, here in zip(values.tolist(), present.tolist()):
        parts.append(struct.pack(_STRUCT[width], width, value) if here else null)
    return b"".join(parts)


class _SentArray(Loader):
    format = Format.BINARY

    def load(self, data) -> bytes:
        return bytes(data)


def raw_array_cursor(conn: psycopg.Connection) -> psycopg.Cursor:
    """A cursor that fetches in binary and hands int8[]/int2[] columns over as their ``array_send`` bytes,
    for NumPy to decode: no per-element work on either side."""
    cursor = conn.cursor(binary=True)
    for name in ("int8", "int2"):
        cursor.adapters.register_loader(cursor.adapters.types[name].array_oid, _SentArray)
    return cursor


def parse_array(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Values (int64) and presence of an ``array_send`` of a one-dimensional int8[] or int2[]."""
    ndim, has_null, oid = struct.unpack_from(">iii", data)
    if ndim == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    count, _ = struct.unpack_from(">ii", data, 12)
    wire, width = (">i8", 8) if oid == 20 else (">i2", 2)
    if not has_null:
        body = np.frombuffer(data, dtype=[("length", ">i4"), ("value", wire)], count=count, offset=20)
        return body["value"].astype(np.int64), np.ones(count, bool)
    values = np.zeros(count, np.int64)
    present = np.zeros(count, bool)
    position = 20
    for slot in range(count):
        (length,) = struct.unpack_from(">i", data, position)
        position += 4
        if length >= 0:
            values[slot] = int.from_bytes(data[position:position + width], "big", signed=True)
            present[slot] = True
            position += length
    return values, present


def field_int8(value: int) -> bytes:
    return struct.pack(">iq", 8, value)


def field_int4(value: int) -> bytes:
    return struct.pack(">ii", 4, value)


def field_int2(value: int) -> bytes:
    return struct.pack(">ih", 2, value)


def field_date(days_since_1970: int) -> bytes:
    return struct.pack(">ii", 4, days_since_1970 - _POSTGRES_EPOCH_DAYS)


def field_timestamptz(epoch_seconds: int) -> bytes:
    return struct.pack(">iq", 8, (epoch_seconds - _POSTGRES_EPOCH_SECONDS) * 1_000_000)


def field_bytes(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def copy_row(fields: list[bytes]) -> bytes:
    return struct.pack(">h", len(fields)) + b"".join(fields)


def parse_arrays(datas: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Many ``array_send`` int8[] at once: (values, presence) of all of them end to end, and each one's
    length. Arrays without NULLs (the usual case) are decoded in one NumPy pass."""
    counts = np.zeros(len(datas), np.int64)
    fast = []
    for number, data in enumerate(datas):
        ndim, has_null, oid = struct.unpack_from(">iii", data)
        counts[number] = struct.unpack_from(">i", data, 12)[0] if ndim else 0
        fast.append(ndim == 1 and not has_null and oid == 20)
    if all(fast):
        body = np.frombuffer(b"".join(data[20:] for data in datas), dtype=[("length", ">i4"), ("value", ">i8")])
        return body["value"].astype(np.int64), np.ones(len(body), bool), counts
    parts = [parse_array(data) for data in datas]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, bool), counts
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), counts
