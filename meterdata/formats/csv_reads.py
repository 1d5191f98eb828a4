"""Manual and AMR-route reads as CSV (docs/importers.md).

A header row names the columns; ``meter_id``, ``start`` and ``value`` are required, the others
optional: ``channel`` (1), ``interval_s`` (the meter's), ``kind`` (``interval`` or ``register``),
``quality`` (``actual``, ``estimated``, ``edited``), ``unit`` (the meter's). ``start`` is ISO 8601
with a UTC offset, or local wall-clock time (``2026-10-01 14:00``) in the meter's zone. For a register
read, ``start`` is when the dial was read and ``value`` what it showed. Values are decimals in the
unit, taken exactly.
"""
from __future__ import annotations

import csv
from datetime import datetime

from meterdata.errors import FormatError
from meterdata.formats.series import (ACTUAL, EDITED_AT_SOURCE, ESTIMATED_AT_SOURCE, Parsed, RegisterRead, Rejected,
                                    SourceSeries, common_scale, exact_decimal)

REQUIRED = ("meter_id", "start", "value")
OPTIONAL = ("channel", "interval_s", "kind", "quality", "unit")
QUALITY = {"": ACTUAL, "actual": ACTUAL, "estimated": ESTIMATED_AT_SOURCE, "edited": EDITED_AT_SOURCE}


def parse(lines) -> Parsed:
    out = Parsed()
    reader = csv.reader(lines)
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    if missing or unknown:
        detail = "; ".join(filter(None, [missing and f"missing columns {missing}",
                                          unknown and f"unknown columns {unknown}"]))
        out.rejected.append(Rejected(1, "bad_header", detail))
        return out
    runs: dict[tuple, SourceSeries] = {}
    powers: dict[int, list[int]] = {}
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        out.records += 1
        if len(row) != len(header):
            out.rejected.append(Rejected(number, "bad_row", f"{len(row)} fields, the header has {len(header)}"))
            continue
        record = {name: cell.strip() for name, cell in zip(header, row)}
        try:
            _row(record, number, runs, powers, out)
        except ValueError as error:
            out.rejected.append(Rejected(number, getattr(error, "reason", "bad_row"), str(error)))
    for series in out.series:  # decimals of a series brought to one power of ten, exactly
        series.values, series.power_of_ten = common_scale(list(zip(series.values, powers[id(series)])))
    return out


class _RowError(FormatError):
    code = "bad_csv_row"

    def __init__(self, reason: str, detail: str):
        super().__init__(detail, code=reason)
        self.reason = reason


def _row(record: dict, number: int, runs: dict, powers: dict, out: Parsed) -> None:
    meter = record["meter_id"]
    if not meter:
        raise _RowError("no_meter", "meter_id is empty")
    try:
        channel = int(record.get("channel") or 1)
        interval_s = int(record.get("interval_s") or 0)
    except ValueError:
        raise _RowError("bad_row", "channel and interval_s are whole numbers") from None
    kind = (record.get("kind") or "interval").lower()
    if kind not in ("interval", "register"):
        raise _RowError("bad_kind", f"kind {kind!r} is interval or register")
    quality = (record.get("quality") or "").lower()
    if quality not in QUALITY:
        raise _RowError("bad_quality", f"quality {quality!r} is one of {sorted(q for q in QUALITY if q)}")
    try:
        value, power = exact_decimal(record["value"])
    except ValueError as error:
        raise _RowError("bad_value", str(error)) from None
    at, local = _time(record["start"])
    unit = record.get("unit") or ""
    if kind == "register":
        out.registers.append(RegisterRead(meter, channel, unit, power, value, at, local, QUALITY[quality], number))
        return
    key = (meter, channel, interval_s, unit, at is None)
    series = runs.get(key)
    if series is None:
        series = runs[key] = SourceSeries(meter, channel, unit, interval_s, number)
        out.series.append(series)
        powers[id(series)] = []
    powers[id(series)].append(power)
    if at is None:
        series.local_times.append(local)
    else:
        series.starts.append(at)
    series.values.append(value)
    series.quality.append(QUALITY[quality])
    series.lines.append(number)


def _time(text: str) -> tuple[int | None, datetime | None]:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _RowError("bad_timestamp", f"start {text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        return None, moment
    return int(moment.timestamp()), None
