"""VEE thresholds in force: per service type and meter class, by the day they take effect (staff set
them with ``m2c vee thresholds set``); what is not set is the default below."""
from __future__ import annotations

import bisect
import time
from datetime import date

import numpy as np

from vee.rules import (HISTORY_FLOOR_SHARE, HISTORY_HIGH_FACTOR, HISTORY_LOW_SHARE, REGISTER_TOLERANCE_SHARE,
                               REGISTER_TOLERANCE_UNITS, SPIKE_FLOOR_SHARE, SPIKE_RATIO, ZERO_RUN_HOURS)

# parameter -> default per service (None: every service); a default of None means "the meter's own"
# (the hard limits registered with each meter)
DEFAULTS: dict[str, dict[str | None, float | None]] = {
    "high_per_hour": {None: None},
    "low_per_hour": {None: None},
    "spike_ratio": {None: SPIKE_RATIO},
    "spike_floor_share": {None: SPIKE_FLOOR_SHARE},
    "zero_run_hours": {None: 0.0, **{service: float(hours) for service, hours in ZERO_RUN_HOURS.items()}},
    "history_high_factor": {None: HISTORY_HIGH_FACTOR},
    "history_floor_share": {None: HISTORY_FLOOR_SHARE},
    "history_low_share": {None: HISTORY_LOW_SHARE},
    "register_share": {None: REGISTER_TOLERANCE_SHARE},
    "register_units": {None: float(REGISTER_TOLERANCE_UNITS)},
}
LIMITS = ("high_per_hour", "low_per_hour")  # hard limits by meter class, in the meter's stored unit per hour
REFRESH_SECONDS = 60.0


class Thresholds:
    def __init__(self, stored: list[tuple] = ()):
        self._by_key: dict[tuple, tuple[list[date], list[float]]] = {}
        for service, meter_class, parameter, value, effective_from in sorted(stored, key=lambda r: r[4]):
            days, values = self._by_key.setdefault((service, meter_class, parameter), ([], []))
            days.append(effective_from)
            values.append(float(value))

    def sets(self, parameter: str) -> bool:
        """Whether any service or class has ``parameter`` set (the hard limits are skipped otherwise)."""
        return any(key[2] == parameter for key in self._by_key)

    def value(self, service: str, meter_class: str | None, parameter: str, day: date) -> float | None:
        """The value in force on ``day``: the meter class's own, else the service's, else the default."""
        keys = [(service, meter_class, parameter)] if meter_class else []
        for key in keys + [(service, None, parameter)]:
            found = self._by_key.get(key)
            if found:
                at = bisect.bisect_right(found[0], day)
                if at:
                    return found[1][at - 1]
        defaults = DEFAULTS[parameter]
        return defaults.get(service, defaults[None])


class ThresholdSource:
    """The stored thresholds, re-read at most once a minute."""

    def __init__(self, conn):
        self.conn = conn
        self.loaded_at = -REFRESH_SECONDS
        self.current = Thresholds()

    def get(self) -> Thresholds:
        if time.monotonic() - self.loaded_at >= REFRESH_SECONDS:
            from storage.vee_thresholds import rows

            self.current = Thresholds(rows(self.conn))
            self.loaded_at = time.monotonic()
        return self.current


def apply_class_limits(thresholds: Thresholds, batch, facts, known: dict, align: np.ndarray) -> None:
    """Hard limits staff set per service and meter class (``high_per_hour``, ``low_per_hour``) replace
    the meter's own for the blocks of days they are in force; nothing to do when none is set."""
    wanted = [p for p in LIMITS if thresholds.sets(p)]
    if not wanted:
        return
    for block, number in enumerate(batch.meter_ids):
        meter = known.get(number)
        if meter is None:
            continue
        day = date.fromordinal(date(1970, 1, 1).toordinal() + (int(batch.start[block]) + int(align[block])) // 86400)
        step = int(batch.interval_s[block])
        for parameter in wanted:
            value = thresholds.value(meter.service, meter.meter_class, parameter, day)
            if value is None:
                continue
            if parameter == "high_per_hour":
                facts.high[block] = -(-int(value * step) // 3600)
            else:
                facts.low[block] = int(value * step) // 3600

