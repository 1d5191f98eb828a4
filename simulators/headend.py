"""A seeded AMI head-end: interval reads for a utility's meters over a time range, as wire-format
messages, with faults injected at known rates so that tests can count what must be flagged.

Generation, publishing and checking are separate steps: :func:`generate` yields messages and keeps a
:class:`Truth` of what it produced; :mod:`streams.producer` sends them to Kafka.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import numpy as np

from simulators.utility import Meter, Utility
from meterdata.codec import Block, Message, encode_binary, encode_json


@dataclass(frozen=True)
class FaultPlan:
    """Share of blocks that get each fault."""

    negative: float = 0.0  # one interval made negative
    spike: float = 0.0  # one interval far above the meter's high limit
    misaligned: float = 0.0  # block start shifted by a minute
    unknown_meter: float = 0.0  # meter number no one installed
    undecodable: float = 0.0  # bytes that are no message at all
    # shares of meter-days (decided per meter and local day, so every block of the day agrees)
    day_spike: float = 0.0  # electric: one interval far above the day's others, under the high limit
    leak: float = 0.0  # water: a small flow added to every interval of the day

    @classmethod
    def demo(cls) -> "FaultPlan":
        return cls(negative=0.001, spike=0.001, misaligned=0.0005, unknown_meter=0.0005, undecodable=0.0005)


@dataclass
class Truth:
    """What the head-end produced: every published read is either stored or flagged downstream."""

    messages: int = 0
    reads: int = 0  # reads inside decodable messages
    flagged_reads: int = 0  # reads a correct VEE must hold back
    dlq_messages: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def clean_reads(self) -> int:
        return self.reads - self.flagged_reads

    def count(self, fault: str) -> None:
        self.faults[fault] = self.faults.get(fault, 0) + 1



def _local_hours(moments: np.ndarray, zone: str) -> np.ndarray:
    """Local hour of day (float); the offset at the first moment is close enough for load shapes."""
    offset = datetime.fromtimestamp(int(moments[0]), ZoneInfo(zone)).utcoffset().total_seconds()
    return ((moments + offset) % 86400) / 3600.0


def load_shape(meter: Meter, moments: np.ndarray, zone: str, rng: np.random.Generator) -> np.ndarray:
    """Integer reads (in the meter's stored unit) for intervals starting at ``moments``."""
    hour = _local_hours(moments, zone)
    hours_per_interval = meter.interval_s / 3600.0
    if meter.service == "electric":  # Wh: base load, morning and evening peaks
        kw = 0.45 + 0.5 * np.exp(-((hour - 7.5) ** 2) / 3) + 1.1 * np.exp(-((hour - 19) ** 2) / 5)
        per_interval = kw * 1000 * hours_per_interval
    elif meter.service == "water":  # 0.1 gal: nothing at night, showers and irrigation in the day
        gallons_per_hour = 1.0 + 9 * np.exp(-((hour - 7) ** 2) / 2) + 6 * np.exp(-((hour - 19) ** 2) / 3)
        gallons_per_hour = gallons_per_hour * (hour > 5)
        per_interval = gallons_per_hour * 10 * hours_per_interval
    else:  # gas, 0.1 ft3: heating through the night and morning
        cubic_feet_per_hour = 12 + 25 * np.exp(-((hour - 6) ** 2) / 6)
        per_interval = cubic_feet_per_hour * 10 * hours_per_interval
    noise = rng.uniform(0.8, 1.2, size=len(moments))
    return np.rint(per_interval * meter.scale * noise).astype(np.int64)


def block_bounds(zone: str, start: datetime, end: datetime, block_hours: int) -> list[int]:
    """Block boundaries (epoch seconds) at local midnight and every ``block_hours`` local hours after it,
    as head-ends cut their files; a DST day's blocks are an hour shorter or longer."""
    info = ZoneInfo(zone)
    first, last = int(start.timestamp()), int(end.timestamp())
    bounds = set()
    day = start.astimezone(info).date()
    while True:
        for hour in range(0, 24, block_hours):
            moment = int(datetime.combine(day, time(hour), info).timestamp())
            if first <= moment <= last:
                bounds.add(moment)
        if int(datetime.combine(day, time(0), info).timestamp()) > last:
            break
        day += timedelta(days=1)
    return sorted(bounds | {first, last})


def generate(utility: Utility, start: datetime | None = None, end: datetime | None = None, block_hours: int = 6,
             faults: FaultPlan = FaultPlan(), seed: int = 11, json_share: float = 0.0,
             truth: Truth | None = None) -> Iterator[Message]:
    """Messages for every meter over [start, end) (default: the utility's billing period), block by block
    in time order, as a head-end would send them."""
    zone = ZoneInfo(utility.zone)
    start = start or datetime.combine(utility.period_start, time(0), zone)
    end = end or datetime.combine(utility.period_end, time(0), zone)
    bounds = block_bounds(utility.zone, start, end, block_hours)
    truth = truth if truth is not None else Truth()
    fault_rng = np.random.default_rng([seed, 1])
    meter_rngs = [np.random.default_rng([seed, 2, number]) for number in range(len(utility.meters))]
    for block_start, block_end in zip(bounds[:-1], bounds[1:]):
        for number, meter in enumerate(utility.meters):
            moments = np.arange(block_start, block_end, meter.interval_s, dtype=np.int64)
            if not len(moments):
                continue
            values = load_shape(meter, moments, utility.zone, meter_rngs[number])
            day_fault = bool(faults.day_spike or faults.leak) and _day_faults(meter, number, moments, values, zone,
                                                                             faults, seed, truth)
            yield _with_faults(meter, moments, values, faults, fault_rng, json_share, truth, clean=day_fault)


def _day_faults(meter: Meter, number: int, moments: np.ndarray, values: np.ndarray, zone: ZoneInfo,
                faults: FaultPlan, seed: int, truth: Truth) -> bool:
    """Faults of whole local days (a block never spans two local days: see block_bounds); returns
    whether this meter-day carries one."""
    first = datetime.fromtimestamp(int(moments[0]), zone)
    day = first.date()
    rng = np.random.default_rng([seed, 3, number, day.toordinal()])
    spike, leak, hour = rng.random(), rng.random(), int(rng.integers(0, 24))
    day_start = int(datetime.combine(day, time(0), zone).timestamp())
    spiked = meter.service == "electric" and spike < faults.day_spike
    leaking = meter.service == "water" and leak < faults.leak
    if spiked:
        # at the hour drawn: 90% of the meter's hard limit, far above any normal interval of a home
        target = day_start + hour * 3600
        hit = np.flatnonzero(moments == target)
        if len(hit):
            values[hit[0]] = int(meter.expected_high_per_hour * meter.interval_s / 3600 * 0.9)
            truth.count("day_spike")
    if leaking:
        values += max(1, int(meter.expected_high_per_hour * meter.interval_s / 3600 * 0.002))
        if moments[0] == day_start:
            truth.count("leak")
    return spiked or leaking


def _with_faults(meter: Meter, moments: np.ndarray, values: np.ndarray, faults: FaultPlan,
                 rng: np.random.Generator, json_share: float, truth: Truth, clean: bool = False) -> Message:
    """Block faults at the plan's rates. ``clean``: the meter-day carries a day fault, which another fault
    on the same day would hide (its day would be incomplete), so the block gets none; an unknown
    meter's block gets no value fault either (an unknown meter has no limits to break)."""
    truth.messages += 1
    meter_no, start = meter.meter_no, int(moments[0])
    draw = rng.random(5)
    if draw[4] < faults.undecodable and not clean:
        truth.dlq_messages += 1
        truth.count("undecodable")
        return Message(meter_no.encode(), b"MB\x01\x00garbage" + bytes(rng.integers(0, 256, 7, dtype=np.uint8)))
    misaligned = draw[2] < faults.misaligned and not clean
    unknown = draw[3] < faults.unknown_meter and not clean and not misaligned
    flagged = 0
    if not clean and not unknown:
        if draw[0] < faults.negative:
            values[rng.integers(len(values))] = -int(rng.integers(1, 500))
            truth.count("negative")
            flagged = 1
        elif draw[1] < faults.spike:
            high = -(-meter.expected_high_per_hour * meter.interval_s // 3600)
            values[rng.integers(len(values))] = high * 10
            truth.count("spike")
            flagged = 1
    if misaligned:
        start += 60
        truth.count("misaligned")
        flagged = len(values)
    elif unknown:
        meter_no = "U" + meter_no[1:]
        truth.count("unknown_meter")
        flagged = len(values)
    truth.reads += len(values)
    truth.flagged_reads += flagged
    block = Block(meter_no, 1, start, meter.interval_s, values, np.zeros(len(values), np.uint8))
    encode = encode_json if rng.random() < json_share else encode_binary
    return Message(meter_no.encode(), encode(block))
