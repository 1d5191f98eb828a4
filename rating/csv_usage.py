"""Interval usage from CSV text, for pricing without any service: ``start,value`` per row with ISO-8601
timestamps (with a UTC offset) and values in the tariff's billing unit; optional ``channel`` (``import``
or ``export``, or 1 and 2) and ``demand_kw`` columns. Values are read as exact decimals."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

import numpy as np

from rating.errors import RatingError
from rating.usage import IntervalData

CHANNELS = {"import": 1, "1": 1, "delivered": 1, "export": 2, "2": 2, "received": 2}


class UsageFileInvalid(RatingError):
    code = "usage_file_invalid"

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the usage file:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class CsvUsage:
    intervals: IntervalData  # integers; x factor = billing unit; demand_kw, when given, as measured demand
    factor: Decimal


def parse_usage_csv(text: str) -> CsvUsage:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"start", "value"} <= set(reader.fieldnames):
        raise UsageFileInvalid(["line 1: the header needs the columns start,value (optionally channel, demand_kw)"])
    problems: list[str] = []
    rows: dict[int, dict[int, Decimal]] = {1: {}, 2: {}}
    demands: dict[int, Decimal] = {}
    for line, row in enumerate(reader, start=2):
        try:
            moment = datetime.fromisoformat(row["start"].strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no UTC offset")
        except (ValueError, AttributeError) as error:
            problems.append(f"line {line}: start {row.get('start')!r} is not an ISO-8601 time with offset ({error})")
            continue
        channel = CHANNELS.get(str(row.get("channel") or "import").strip().lower())
        if channel is None:
            problems.append(f"line {line}: channel {row.get('channel')!r} is not import or export")
            continue
        try:
            value = Decimal(row["value"].strip())
            if not value.is_finite():
                raise InvalidOperation
        except (InvalidOperation, AttributeError):
            problems.append(f"line {line}: value {row.get('value')!r} is not a number")
            continue
        epoch = int(moment.timestamp())
        if epoch in rows[channel]:
            problems.append(f"line {line}: a second {('import', 'export')[channel - 1]} value for {row['start']}")
            continue
        rows[channel][epoch] = value
        if row.get("demand_kw"):
            try:
                demands[epoch] = Decimal(row["demand_kw"].strip())
            except InvalidOperation:
                problems.append(f"line {line}: demand_kw {row['demand_kw']!r} is not a number")
    if not rows[1] and not problems:
        problems.append("no import intervals")
    if problems:
        raise UsageFileInvalid(problems)
    starts = np.array(sorted(set(rows[1]) | set(rows[2])), dtype=np.int64)
    steps = np.diff(starts)
    interval_s = int(np.bincount(steps).argmax()) if len(steps) else 3600
    if len(steps) and np.any(steps % interval_s):
        raise UsageFileInvalid([f"intervals are not a regular grid of {interval_s} s"])
    places = max([-v.as_tuple().exponent for ch in rows.values() for v in ch.values()] + [0])
    factor = Decimal(1).scaleb(-places)

    def column(values: dict[int, Decimal]) -> np.ndarray:
        return np.array([int(values.get(int(t), Decimal(0)).scaleb(places)) for t in starts], dtype=np.int64)

    exported = column(rows[2]) if rows[2] else None
    demand = None
    demand_places = 0
    if demands:
        demand_places = max(-v.as_tuple().exponent for v in demands.values())
        demand = np.array([int(demands.get(int(t), Decimal(0)).scaleb(demand_places)) for t in starts], np.int64)
    return CsvUsage(IntervalData(starts, interval_s, column(rows[1]), exported, None, demand,
                                 Decimal(1).scaleb(-demand_places)), factor)
