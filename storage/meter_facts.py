"""The meter directory as the stream sees it: meter number to the facts VEE and storage need."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import psycopg


@dataclass(frozen=True)
class MeterFacts:
    meter_id: int
    service_point_id: int  # where it is installed now (0: nowhere), for the rules that look at a premise
    service: str
    interval_s: int
    expected_low_per_hour: int
    expected_high_per_hour: int
    zone: str
    meter_class: str | None = None


class MeterDirectory:
    """Caches meters by number; unknown numbers are looked up again on every batch (a meter may be
    installed while its reads are in flight)."""

    def __init__(self) -> None:
        self._known: dict[str, MeterFacts] = {}

    def lookup(self, conn: psycopg.Connection, meter_numbers: list[str]) -> dict[str, MeterFacts]:
        missing = sorted({n for n in meter_numbers if n not in self._known})
        if missing:
            rows = conn.execute(
                "select meter_no, id, coalesce((select service_point_id from meter_installations i where i.meter_id = m.id "
                "order by installed_at desc limit 1), 0), service, interval_s, expected_low_per_hour, "
                "expected_high_per_hour, zone, meter_class from meters m where meter_no = any(%s)", (missing,)).fetchall()
            for row in rows:
                self._known[row[0]] = MeterFacts(*row[1:])
        return self._known


@dataclass
class BlockFacts:
    """Per-block columns for the VEE kernels and storage; unknown meters have interval 0."""

    meter_index: np.ndarray  # int64: a dense number per distinct meter in the batch
    meter_id: np.ndarray  # int64, 0 for unknown
    expected_interval: np.ndarray  # int64, 0 for unknown
    low: np.ndarray  # int64, per interval of the block
    high: np.ndarray  # int64, per interval of the block
    zone_index: np.ndarray  # int64 into ``zones``
    zones: list[str]


def block_facts(meter_numbers: list[str], interval_s: np.ndarray, known: dict[str, MeterFacts],
                default_zone: str) -> BlockFacts:
    count = len(meter_numbers)
    meter_index = np.zeros(count, np.int64)
    meter_id = np.zeros(count, np.int64)
    expected = np.zeros(count, np.int64)
    low_per_hour = np.zeros(count, np.int64)
    high_per_hour = np.zeros(count, np.int64)
    zone_index = np.zeros(count, np.int64)
    zones: list[str] = [default_zone]
    zone_numbers = {default_zone: 0}
    dense: dict[str, int] = {}
    for block, number in enumerate(meter_numbers):
        meter_index[block] = dense.setdefault(number, len(dense))
        facts = known.get(number)
        if facts is None:
            continue
        meter_id[block] = facts.meter_id
        expected[block] = facts.interval_s
        low_per_hour[block] = facts.expected_low_per_hour
        high_per_hour[block] = facts.expected_high_per_hour
        if facts.zone not in zone_numbers:
            zone_numbers[facts.zone] = len(zones)
            zones.append(facts.zone)
        zone_index[block] = zone_numbers[facts.zone]
    step = interval_s.astype(np.int64)
    # limits are per hour in the meter's stored unit; scale to the block's interval (rounding the
    # high limit up and the low limit down, so that the scaling never flags a read by itself)
    high = -(-high_per_hour * step // 3600)
    low = low_per_hour * step // 3600
    high[meter_id == 0] = np.iinfo(np.int64).max
    return BlockFacts(meter_index, meter_id, expected, low, high, zone_index, zones)
