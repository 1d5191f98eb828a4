"""Source series to wire-format blocks of a registered meter: its unit and resolution, its zone,
consecutive runs. Nothing is rounded: a value finer than the meter's resolution is rejected."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

from meterdata.codec import ALLOWED_INTERVALS, MAX_ABS_VALUE, Block
from meterdata.formats.series import RegisterRead, Rejected, SourceSeries

BLOCK_VALUES = 1000  # values per published block


@dataclass(frozen=True)
class MeterUnit:
    meter_no: str
    unit: str
    power_of_ten: int
    interval_s: int
    zone: str


@dataclass
class Converted:
    blocks: list[Block]
    rejected: list[Rejected]
    reads: int
    snapped: int = 0


def snap(starts: np.ndarray, step: int, zone: ZoneInfo, tolerance: int) -> tuple[np.ndarray, int]:
    """Interval starts within ``tolerance`` seconds of the local interval grid moved onto it (some
    feeds start daily intervals one second after midnight). Returns the starts and how many moved."""
    if tolerance <= 0 or 86400 % step:
        return starts, 0
    offsets = np.fromiter((datetime.fromtimestamp(int(t), zone).utcoffset().total_seconds() for t in starts),
                          np.int64, len(starts))
    off = (starts + offsets) % step
    shift = np.where(off <= tolerance, -off, np.where(step - off <= tolerance, step - off, 0))
    return starts + shift, int(np.count_nonzero(shift))


def zoned(local: datetime, zone: ZoneInfo, after: int | None) -> int:
    """Epoch seconds of a wall-clock time; in the repeated hour of a fall-back day the second
    occurrence is taken when the first would not follow ``after``."""
    first = int(local.replace(tzinfo=zone, fold=0).timestamp())
    if after is not None and first <= after:
        second = int(local.replace(tzinfo=zone, fold=1).timestamp())
        if second > after:
            return second
    return first


def _times(series: SourceSeries, zone: ZoneInfo) -> list[int]:
    if series.starts:
        return list(series.starts)
    times: list[int] = []
    previous = None
    for local in series.local_times:
        previous = zoned(local, zone, previous)
        times.append(previous)
    if series.local_times_are_ends:
        step = series.interval_s
        return [t - step for t in times]
    return times


def scale(values: np.ndarray, power: int, meter_power: int) -> tuple[np.ndarray, np.ndarray]:
    """(scaled values, fits): ``values`` x 10^``power`` in units of 10^``meter_power``."""
    shift = power - meter_power
    if shift >= 0:
        if shift > 15:
            return values, np.zeros(len(values), bool)
        factor = 10 ** shift
        fits = np.abs(values) <= MAX_ABS_VALUE // factor
        return values * np.where(fits, factor, 0), fits
    divisor = 10 ** min(-shift, 18)
    fits = (values % divisor) == 0
    return values // divisor, fits


def to_blocks(series: SourceSeries, meter: MeterUnit, snap_seconds: int = 0) -> Converted:
    rejected: list[Rejected] = []
    unit = series.unit or meter.unit
    if unit != meter.unit:
        return Converted([], [Rejected(series.line, "unit_mismatch",
                                       f"{series.source_id}: reads in {unit}, meter {meter.meter_no} measures "
                                       f"{meter.unit}")], 0)
    step = series.interval_s or meter.interval_s
    if step not in ALLOWED_INTERVALS:
        return Converted([], [Rejected(series.line, "bad_interval",
                                       f"{series.source_id}: interval {step}s is not one of {ALLOWED_INTERVALS}")], 0)
    if step != meter.interval_s:  # VEE would hold every one of them back (interval_mismatch)
        return Converted([], [Rejected(series.line, "interval_mismatch",
                                       f"{series.source_id}: {len(series.values)} reads of {step}s, meter "
                                       f"{meter.meter_no} reads every {meter.interval_s}s")], 0)
    too_big = [i for i, v in enumerate(series.values) if abs(v) > MAX_ABS_VALUE]
    if too_big:
        return Converted([], [Rejected(series.line_of(too_big[0]), "value_out_of_range",
                                       f"{series.source_id}: {len(too_big)} values beyond 2^53")], 0)
    starts, snapped = snap(np.asarray(_times(series, ZoneInfo(meter.zone)), np.int64), step, ZoneInfo(meter.zone),
                           snap_seconds)
    values, fits = scale(np.asarray(series.values, np.int64), series.power_of_ten, meter.power_of_ten)
    quality = np.asarray(series.quality, np.uint8)
    for index in np.flatnonzero(~fits)[:1000]:
        rejected.append(Rejected(series.line_of(int(index)), "resolution",
                                 f"{series.source_id}: {series.values[index]}e{series.power_of_ten} {unit} does not "
                                 f"fit meter {meter.meter_no}'s resolution 1e{meter.power_of_ten} {meter.unit}"))
    if not fits.all():
        extra = int((~fits).sum()) - len(rejected)
        if extra > 0:
            rejected.append(Rejected(series.line, "resolution", f"{extra} more values of {series.source_id}"))
        starts, values, quality = starts[fits], values[fits], quality[fits]
    order = np.argsort(starts, kind="stable")
    starts, values, quality = starts[order], values[order], quality[order]
    source_index = np.flatnonzero(fits)[order]  # where each read was in the series (for its line)
    blocks: list[Block] = []
    zone = ZoneInfo(meter.zone)
    reads = int(len(values))
    # a new run wherever the next interval does not start where this one ends
    breaks = np.flatnonzero(np.diff(starts) != step) + 1
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(starts)]):
        for chunk in range(lo, hi, BLOCK_VALUES):
            end = min(chunk + BLOCK_VALUES, hi)
            first = int(starts[chunk])
            if not aligned(first, step, zone):  # VEE would hold the block back (misaligned)
                rejected.append(Rejected(series.line_of(int(source_index[chunk])), "misaligned",
                                         f"{series.source_id}: {end - chunk} reads from "
                                         f"{datetime.fromtimestamp(first, zone):%Y-%m-%d %H:%M:%S} are not on meter "
                                         f"{meter.meter_no}'s {step}s grid in local time (--snap-seconds moves "
                                         "near ones onto it)"))
                reads -= end - chunk
                continue
            blocks.append(Block(meter.meter_no, series.channel, first, step,
                                values[chunk:end].copy(), quality[chunk:end].copy()))
    return Converted(blocks, rejected, reads, snapped)


def aligned(start: int, step: int, zone: ZoneInfo) -> bool:
    """An interval start on the meter's grid in local time (as VEE's misaligned rule checks it)."""
    return (start + int(datetime.fromtimestamp(start, zone).utcoffset().total_seconds())) % step == 0


@dataclass(frozen=True)
class Register:
    meter_no: str
    channel: int
    read_at: datetime
    value: int  # in the meter's resolution
    quality: int


def to_register(read: RegisterRead, meter: MeterUnit) -> Register | Rejected:
    unit = read.unit or meter.unit
    if unit != meter.unit:
        return Rejected(read.line, "unit_mismatch", f"register of {read.source_id} in {unit}, meter {meter.meter_no} "
                                                    f"measures {meter.unit}")
    values, fits = scale(np.asarray([read.value], np.int64), read.power_of_ten, meter.power_of_ten)
    if not fits[0]:
        return Rejected(read.line, "resolution", f"register {read.value}e{read.power_of_ten} {unit} does not fit "
                                                 f"meter {meter.meter_no}'s resolution 1e{meter.power_of_ten}")
    at = read.read_at if read.read_at is not None else zoned(read.local_read_at, ZoneInfo(meter.zone), None)
    return Register(meter.meter_no, read.channel, datetime.fromtimestamp(at, timezone.utc), int(values[0]),
                    read.quality)
