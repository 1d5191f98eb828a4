"""CMEP (California Metering Exchange Protocol) MEPMD01 metering-data records.

One record per line, comma separated: record type, record version, sender id, sender customer id,
receiver id, receiver customer id, time stamp, meter id, purpose, commodity, units, calculation
constant, interval (MMDDHHMM), count, then ``count`` triples of date-time (YYYYMMDDHHMM, local,
the *end* of the interval; blank = the previous one plus the interval), protocol text (data
quality) and value. Units ending in ``REG`` are register (dial) reads; the others are interval
consumption.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from meterdata.errors import FormatError
from meterdata.formats.series import (ACTUAL, EDITED_AT_SOURCE, ESTIMATED_AT_SOURCE, Parsed, RegisterRead,
                                    Rejected, SourceSeries, common_scale, exact_decimal)

RECORD_TYPE = "MEPMD01"
HEADER_FIELDS = 14
# CMEP unit -> (unit, power of ten, channel)
UNITS = {
    "KWH": ("Wh", 3, 1), "WH": ("Wh", 0, 1), "KVARH": ("VArh", 3, 3),
    "CF": ("ft3", 0, 1), "CCF": ("ft3", 2, 1), "HCF": ("ft3", 2, 1),
    "GAL": ("gal", 0, 1), "KGAL": ("gal", 3, 1), "THERM": ("therm", 0, 1),
}
PURPOSES = ("OK", "RESEND", "HISTORY")
# first letter of the protocol text -> quality; N = no value for the interval
QUALITY = {"R": ACTUAL, "A": ACTUAL, "": ACTUAL, "E": ESTIMATED_AT_SOURCE, "M": EDITED_AT_SOURCE}


def interval_seconds(code: str) -> int:
    """'00000100' (MMDDHHMM) -> 3600. Months are not a fixed length and are refused."""
    if len(code) != 8 or not code.isdigit():
        raise FormatError(f"interval {code!r} is not MMDDHHMM")
    months, days, hours, minutes = int(code[:2]), int(code[2:4]), int(code[4:6]), int(code[6:])
    if months:
        raise FormatError(f"interval {code!r} is a month: not an interval length")
    seconds = ((days * 24 + hours) * 60 + minutes) * 60
    if seconds <= 0:
        raise FormatError(f"interval {code!r} is zero")
    return seconds


def parse(lines, meter_field: str = "meter") -> Parsed:
    """Every MEPMD01 line of ``lines`` (an iterable of text lines). ``meter_field`` picks the
    identifier that names the meter: ``meter`` (field 8) or ``receiver-customer`` (field 6)."""
    out = Parsed()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        out.records += 1
        try:
            _record(text.split(","), number, meter_field, out)
        except ValueError as error:
            out.rejected.append(Rejected(number, _reason(error), str(error)))
    return out


class _RecordError(FormatError):
    code = "bad_cmep_record"

    def __init__(self, reason: str, detail: str):
        super().__init__(detail, code=reason)
        self.reason = reason


def _reason(error: ValueError) -> str:
    return getattr(error, "reason", "bad_record")


def _record(fields: list[str], number: int, meter_field: str, out: Parsed) -> None:
    fields = [f.strip() for f in fields]
    if fields[0] != RECORD_TYPE:
        raise _RecordError("unsupported_record", f"record type {fields[0][:20]!r}: only {RECORD_TYPE} is read")
    if len(fields) < HEADER_FIELDS:
        raise _RecordError("truncated", f"{len(fields)} fields, a {RECORD_TYPE} header has {HEADER_FIELDS}")
    meter = fields[7] if meter_field == "meter" else fields[5]
    if not meter:
        raise _RecordError("no_meter", "the meter id field is empty")
    purpose, units = fields[8].upper(), fields[10].upper()
    if purpose not in PURPOSES:
        raise _RecordError("unsupported_purpose", f"purpose {fields[8]!r}: reads are taken from {PURPOSES}")
    register = units.endswith("REG")
    base = units[:-3] if register else units
    if base not in UNITS:
        raise _RecordError("unknown_unit", f"units {fields[10]!r} are not one of {sorted(UNITS)} (+REG)")
    unit, unit_power, channel = UNITS[base]
    try:
        constant = Decimal(fields[11] or "1")
        step = interval_seconds(fields[12])
        count = int(fields[13])
    except (ValueError, ArithmeticError) as error:
        raise _RecordError("bad_header", str(error)) from None
    if count < 0 or len(fields) != HEADER_FIELDS + 3 * count:
        raise _RecordError("count_mismatch",
                           f"count says {count} triples, the record has {(len(fields) - HEADER_FIELDS) / 3:g}")
    constant_digits, constant_power = exact_decimal(str(constant.normalize()))
    ends: list[datetime] = []
    pairs: list[tuple[int, int]] = []
    quality: list[int] = []
    previous: datetime | None = None
    for k in range(count):
        stamp, protocol, value = fields[HEADER_FIELDS + 3 * k: HEADER_FIELDS + 3 * k + 3]
        at = _stamp(stamp, previous, step, k)
        previous = at
        flag = protocol[:1].upper()
        if flag == "N" or value == "":
            continue  # the head-end says it has no value for this interval: a gap, not a zero
        if flag not in QUALITY:
            raise _RecordError("bad_quality", f"triple {k + 1}: protocol text {protocol!r} is not R/A/E/M/N")
        try:
            digits, power = exact_decimal(value)
        except ValueError as error:
            raise _RecordError("bad_value", f"triple {k + 1}: {error}") from None
        ends.append(at)
        pairs.append((digits * constant_digits, power + constant_power))
        quality.append(QUALITY[flag])
    values, power = common_scale(pairs)
    if register:
        for at, value, q in zip(ends, values, quality):
            out.registers.append(RegisterRead(meter, channel, unit, power + unit_power, value, None, at, q, number))
        return
    out.series.append(SourceSeries(
        source_id=meter, channel=channel, unit=unit, interval_s=step, line=number, power_of_ten=power + unit_power,
        local_times=ends, local_times_are_ends=True, values=values, quality=quality))


def _stamp(text: str, previous: datetime | None, step: int, k: int) -> datetime:
    if not text:
        if previous is None:
            raise _RecordError("bad_timestamp", "the first triple has no date-time")
        return previous + timedelta(seconds=step)
    try:
        if len(text) != 12 or not text.isdigit():
            raise FormatError(text)
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:]))
    except ValueError:
        raise _RecordError("bad_timestamp", f"triple {k + 1}: {text[:20]!r} is not YYYYMMDDHHMM") from None
