"""Time-of-use calendars: month x day type x local hour -> period, DST-correct, evaluated with NumPy.

A calendar is two 12 x 24 matrices of period numbers (weekdays, and weekends with holidays), as
OpenEI's rate database keeps them. Tariff files may write the matrices or, more readably, rules
("on_peak: June-September, weekdays, 16-21") that compile to the same matrices, first match winning.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY_TYPES = ("weekday", "weekend", "all")


@dataclass(frozen=True)
class TouCalendar:
    periods: tuple[str, ...]
    weekday: np.ndarray  # (12, 24) int8: period number by month and local hour
    weekend: np.ndarray  # (12, 24) int8
    holidays: frozenset[date]  # billed as weekend days

    def __hash__(self) -> int:
        return hash((self.periods, self.weekday.tobytes(), self.weekend.tobytes(), self.holidays))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TouCalendar) and self.periods == other.periods
                and np.array_equal(self.weekday, other.weekday) and np.array_equal(self.weekend, other.weekend)
                and self.holidays == other.holidays)

    def index(self, period: str) -> int:
        return self.periods.index(period)

    def hour_labels(self, day_ordinals: np.ndarray) -> np.ndarray:
        """(days x 24) period numbers for local days (days since 1970-01-01) by wall-clock hour."""
        days = np.asarray(day_ordinals, dtype=np.int64)
        month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
        weekend = (days + 3) % 7 >= 5
        if self.holidays:
            holiday_days = np.array([d.toordinal() - _EPOCH_ORDINAL for d in self.holidays], dtype=np.int64)
            weekend |= np.isin(days, holiday_days)
        return np.where(weekend[:, None], self.weekend[month], self.weekday[month]).astype(np.int64)

    def labels(self, starts: np.ndarray, zone: str) -> np.ndarray:
        """Period number of each interval starting at ``starts`` (epoch seconds), by its local wall-clock
        start in ``zone``: on DST days the repeated hour is labelled twice and the skipped one never.
        The agreements of a bill run share one interval grid, so the labels of a grid are kept (read-only)."""
        key = (self, zone, np.ascontiguousarray(starts, dtype=np.int64).tobytes())
        found = _LABELS.get(key)
        if found is None:
            if len(_LABELS) >= 64:
                _LABELS.pop(next(iter(_LABELS)))
            found = _LABELS[key] = self._labels(starts, zone)
            found.flags.writeable = False
        return found

    def _labels(self, starts: np.ndarray, zone: str) -> np.ndarray:
        wall = starts + utc_offsets(zone, starts)
        days = wall // 86400
        hour = (wall % 86400) // 3600
        month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
        weekend = (days + 3) % 7 >= 5  # 1970-01-01 was a Thursday; Monday = 0
        if self.holidays:
            holiday_days = np.array([d.toordinal() - _EPOCH_ORDINAL for d in self.holidays], dtype=np.int64)
            weekend |= np.isin(days, holiday_days)
        return np.where(weekend, self.weekend[month, hour], self.weekday[month, hour]).astype(np.int8)


_LABELS: dict = {}  # (calendar, zone, grid bytes) -> labels, oldest dropped first


@lru_cache(maxsize=4096)
def _offset_at_hour(zone: str, hour: int) -> int:
    moment = datetime.fromtimestamp(hour * 3600, timezone.utc).astimezone(ZoneInfo(zone))
    return int(moment.utcoffset().total_seconds())


def utc_offsets(zone: str, starts: np.ndarray) -> np.ndarray:
    """UTC offset (seconds) in force at each moment; offsets change on whole UTC hours (quarter hours
    in a few zones: those are looked up per interval)."""
    if not len(starts):
        return np.zeros(0, np.int64)
    hours = starts // 3600
    first, last = int(hours.min()), int(hours.max())
    table = np.fromiter((_offset_at_hour(zone, h) for h in range(first, last + 1)), np.int64, last - first + 1)
    offsets = table[hours - first]
    if np.any(table % 3600):  # zones with :30/:45 offsets may switch inside an hour; do it exactly
        info = ZoneInfo(zone)
        offsets = np.fromiter((int(datetime.fromtimestamp(int(t), timezone.utc).astimezone(info)
                                   .utcoffset().total_seconds()) for t in starts), np.int64, len(starts))
    return offsets


def from_rules(reader, table: dict, path: str) -> TouCalendar | None:
    """``[versions.tou]``: ``periods``, then either ``weekday``/``weekend`` matrices or ``rules`` with a
    ``default`` period; optional ``holidays`` (dates)."""
    periods = table.get("periods")
    if not isinstance(periods, list) or not periods or not all(isinstance(p, str) and p for p in periods):
        reader.problem(f"{path}periods", "missing", "a list of period names is required")
        return None
    if len(set(periods)) != len(periods):
        reader.problem(f"{path}periods", "duplicate_period", "period names repeat")
        return None
    holidays = set()
    for index, value in enumerate(table.get("holidays", [])):
        try:
            holidays.add(value if isinstance(value, date) else date.fromisoformat(str(value)))
        except ValueError:
            reader.problem(f"{path}holidays[{index}]", "not_a_date", f"{value!r} is not YYYY-MM-DD")
    if "weekday" in table or "weekend" in table:
        weekday = _matrix(reader, table.get("weekday"), f"{path}weekday", len(periods))
        weekend = _matrix(reader, table.get("weekend"), f"{path}weekend", len(periods))
        if weekday is None or weekend is None:
            return None
        return TouCalendar(tuple(periods), weekday, weekend, frozenset(holidays))
    default = table.get("default")
    if default not in periods:
        reader.problem(f"{path}default", "unknown_period", "rules need a default period from the periods list")
        return None
    weekday = np.full((12, 24), periods.index(default), np.int8)
    weekend = weekday.copy()
    filled = np.zeros((2, 12, 24), bool)
    rules = table.get("rules", [])
    if not isinstance(rules, list):
        reader.problem(f"{path}rules", "not_a_list", "rules is a list of tables")
        return None
    for index, rule in enumerate(rules):
        rule_path = f"{path}rules[{index}]."
        if not isinstance(rule, dict):
            reader.problem(rule_path.rstrip("."), "not_a_table", "each rule is a table")
            continue
        period = rule.get("period")
        if period not in periods:
            reader.problem(f"{rule_path}period", "unknown_period", f"{period!r} is not in the periods list")
            continue
        months = rule.get("months", list(range(1, 13)))
        if not isinstance(months, list) or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
            reader.problem(f"{rule_path}months", "bad_months", "months are numbers 1-12")
            continue
        days = rule.get("days", "all")
        if days not in DAY_TYPES:
            reader.problem(f"{rule_path}days", "bad_day_type", f"days is one of {', '.join(DAY_TYPES)}")
            continue
        hours = rule.get("hours", [0, 24])
        if (not isinstance(hours, list) or len(hours) != 2 or not all(isinstance(h, int) for h in hours)
                or not 0 <= hours[0] < hours[1] <= 24):
            reader.problem(f"{rule_path}hours", "bad_hours", "hours is [start, end) with 0 <= start < end <= 24")
            continue
        number = periods.index(period)
        for kind, matrix in ((0, weekday), (1, weekend)):
            if days == ("weekend" if kind == 0 else "weekday"):
                continue
            for month in months:
                for hour in range(hours[0], hours[1]):
                    if not filled[kind, month - 1, hour]:
                        matrix[month - 1, hour] = number
                        filled[kind, month - 1, hour] = True
    return TouCalendar(tuple(periods), weekday, weekend, frozenset(holidays))


def _matrix(reader, value, path: str, period_count: int) -> np.ndarray | None:
    try:
        matrix = np.array(value, dtype=np.int64)
    except (TypeError, ValueError):
        matrix = None
    if matrix is None or matrix.shape != (12, 24):
        reader.problem(path, "bad_matrix", "12 rows (January-December) of 24 period numbers (hours 0-23)")
        return None
    if matrix.min() < 0 or matrix.max() >= period_count:
        reader.problem(path, "unknown_period", f"period numbers are 0..{period_count - 1}")
        return None
    return matrix.astype(np.int8)
