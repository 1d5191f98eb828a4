"""Rows for PostgreSQL's text COPY format, built in one string per batch: much cheaper than a
per-row, per-value adaptation when a bill run writes hundreds of thousands of rows."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _field(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value).translate(_ESCAPES)


NULL = "\\N"


def escaper():
    """A text escaper that remembers: a bill run writes the same few descriptions and codes again and
    again, so each distinct string is escaped once."""
    cache: dict[str, str] = {}

    def escape(text: str | None) -> str:
        if text is None:
            return NULL
        found = cache.get(text)
        if found is None:
            found = cache[text] = text.translate(_ESCAPES)
        return found
    return escape


def int_array(values) -> str:
    """A PostgreSQL array literal of integers (None for NULL), bound as ``%s::int8[]``: psycopg adapts
    a list element by element in Python, and a bill run binds thousands of ids per statement."""
    return "{" + ",".join(["NULL" if v is None else str(int(v)) for v in values]) + "}"


def bool_array(values) -> str:
    """A PostgreSQL array literal of booleans, bound as ``%s::bool[]``."""
    return "{" + ",".join(["t" if v else "f" for v in values]) + "}"


def copy_text(rows) -> bytes:
    """The text COPY data of ``rows`` (tuples of None, bool, int, Decimal, date, datetime or str)."""
    return "".join("\t".join([_field(value) for value in row]) + "\n" for row in rows).encode()


def copy_rows(conn, statement: str, rows=None, data: bytes | None = None) -> None:
    """``copy ... from stdin`` (text format) with every row in one write: ``rows`` as tuples, or ``data``
    already formatted (for the hottest tables, where each caller formats its known columns directly)."""
    data = copy_text(rows) if data is None else data
    if data:
        with conn.cursor().copy(statement) as copy:
            copy.write(data)
