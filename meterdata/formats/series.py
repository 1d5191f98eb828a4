"""What a head-end file says, before it is matched to a registered meter.

A :class:`SourceSeries` is consecutive-or-not readings of one source meter and channel in one unit;
values are integers x 10^``power_of_ten`` of ``unit`` so that nothing is rounded on the way in.
Times are interval starts in epoch seconds (UTC) once known; formats that give local wall-clock
times (CMEP, some CSV) carry them as naive datetimes until the meter's zone is known.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from meterdata import day_rows
from meterdata.errors import FormatError

# quality codes of reads as the source flagged them (docs/importers.md); 0 = actual
ACTUAL = 0
ESTIMATED_AT_SOURCE = day_rows.ESTIMATED_AT_SOURCE  # counted as estimated on the bill, like VEE's estimates
EDITED_AT_SOURCE = 2
QUESTIONABLE_AT_SOURCE = 3
PRORATED_FROM_REGISTER = 4


@dataclass(frozen=True)
class Rejected:
    """A record, or part of one, that was not imported; ``line`` is 1-based (0: the whole file)."""

    line: int
    reason: str  # a stable code
    detail: str


@dataclass
class SourceSeries:
    """``unit`` empty: the meter's own unit; ``interval_s`` 0: the meter's own interval."""

    source_id: str
    channel: int
    unit: str
    interval_s: int
    line: int  # where the series starts in its file
    power_of_ten: int = 0
    starts: list[int] = field(default_factory=list)  # epoch seconds, UTC
    local_times: list[datetime] = field(default_factory=list)  # naive local times, until zoned
    local_times_are_ends: bool = False  # CMEP stamps the end of each interval
    values: list[int] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # per read, where the format has them

    def line_of(self, index: int) -> int:
        return self.lines[index] if self.lines else self.line


@dataclass(frozen=True)
class RegisterRead:
    """A cumulative (dial) reading: ``value`` x 10^``power_of_ten`` ``unit`` at ``read_at``."""

    source_id: str
    channel: int
    unit: str
    power_of_ten: int
    value: int
    read_at: int | None  # epoch seconds; None while only ``local_read_at`` is known
    local_read_at: datetime | None
    quality: int
    line: int


@dataclass
class Parsed:
    series: list[SourceSeries] = field(default_factory=list)
    registers: list[RegisterRead] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    records: int = 0


def exact_decimal(text: str) -> tuple[int, int]:
    """'12.50' -> (1250, -2): the digits as an integer and the power of ten, nothing rounded."""
    whole, point, fraction = text.strip().partition(".")
    digits = whole.lstrip("-")
    if digits.isascii() and digits.isdigit() and (not point or (fraction.isascii() and fraction.isdigit())) and len(whole) - len(digits) <= 1:
        return int(whole + fraction), -len(fraction)
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise FormatError(f"{text.strip()[:40]!r} is not a number") from None
    if not number.is_finite():
        raise FormatError(f"{text.strip()[:40]!r} is not a finite number")
    sign, digits, exponent = number.as_tuple()
    integer = int("".join(map(str, digits)) or "0")
    return (-integer if sign else integer), int(exponent)


def common_scale(pairs: list[tuple[int, int]]) -> tuple[list[int], int]:
    """Integers x 10^e with different e brought to the smallest e, exactly."""
    if not pairs:
        return [], 0
    low = min(e for _, e in pairs)
    return [v * 10 ** (e - low) for v, e in pairs], low
