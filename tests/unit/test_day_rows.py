from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from storage.day_rows import StoredRow, group_days, local_days, merge_rows

ZONE = "America/Chicago"


def day_start(day: date) -> int:
    return int(datetime.combine(day, time(0), ZoneInfo(ZONE)).timestamp())


def rows_for(start: int, count: int, interval: int = 900, values=None, meter: int = 1):
    moments = start + np.arange(count, dtype=np.int64) * interval
    values = np.arange(count, dtype=np.int64) if values is None else np.asarray(values, np.int64)
    return group_days(np.full(count, meter, np.int64), np.ones(count, np.int16), moments,
                      np.full(count, interval, np.int32), np.zeros(count, np.int64), [ZONE], values,
                      np.zeros(count, np.int16))


def test_dst_days_have_92_and_100_quarter_hours():
    spring, fall, plain = date(2026, 3, 8), date(2026, 11, 1), date(2026, 10, 20)
    for day, slots in ((spring, 92), (fall, 100), (plain, 96)):
        rows = rows_for(day_start(day), slots)
        assert len(rows) == 1
        assert rows.slots.tolist() == [slots]
        assert rows.local_day(0) == day
        assert rows.slot_of.tolist() == list(range(slots))


def test_a_block_across_local_midnight_splits_into_two_rows():
    start = day_start(date(2026, 10, 21)) - 2 * 3600
    rows = rows_for(start, 4, interval=3600)
    assert [rows.local_day(r) for r in range(len(rows))] == [date(2026, 10, 20), date(2026, 10, 21)]
    assert rows.slots.tolist() == [24, 24]
    assert rows.slot_of.tolist() == [22, 23, 0, 1]


def test_local_days_around_midnight():
    moments = np.array([day_start(date(2026, 10, 20)) - 1, day_start(date(2026, 10, 20))], np.int64)
    days, starts = local_days(ZONE, moments)
    assert (days + date(1970, 1, 1).toordinal()).tolist() == [date(2026, 10, 19).toordinal(),
                                                              date(2026, 10, 20).toordinal()]
    assert starts[1] == moments[1]


def as_stored(merged):
    return StoredRow(merged.values, merged.present, merged.quality)


def slots(merged, count):
    return [int(v) if p else None for v, p in zip(merged.values[:count], merged.present[:count])]


def test_merge_new_row_then_redelivery_changes_nothing():
    rows = rows_for(day_start(date(2026, 10, 20)), 4, values=[5, 6, 7, 8])
    first = merge_rows(rows, {})[0]
    assert slots(first, 5) == [5, 6, 7, 8, None] and first.total == 26 and first.read_count == 4
    assert (first.delta_total, first.delta_count, first.changed) == (26, 4, True)
    again = merge_rows(rows, {0: as_stored(first)})[0]
    assert slots(again, 96) == slots(first, 96)
    assert (again.delta_total, again.delta_count, again.changed) == (0, 0, False)


def test_merge_correction_moves_rollup_by_the_difference():
    start = day_start(date(2026, 10, 20))
    stored = merge_rows(rows_for(start, 4, values=[5, 6, 7, 8]), {})[0]
    correction = rows_for(start + 900, 2, values=[16, 0])
    merged = merge_rows(correction, {0: as_stored(stored)})[0]
    assert slots(merged, 4) == [5, 16, 0, 8] and merged.changed
    assert merged.delta_total == (5 + 16 + 0 + 8) - 26 and merged.delta_count == 0


def test_merge_fills_a_gap_later():
    start = day_start(date(2026, 10, 20))
    morning = merge_rows(rows_for(start, 2, values=[1, 2]), {})[0]
    later = rows_for(start + 3 * 900, 1, values=[4])
    merged = merge_rows(later, {0: as_stored(morning)})[0]
    assert slots(merged, 5) == [1, 2, None, 4, None]
    assert (merged.delta_total, merged.delta_count) == (4, 1)


def test_hourly_buckets_follow_the_wall_clock_on_dst_days():
    from storage.day_rows import hourly_buckets, wall_clock_hours

    fall = date(2026, 11, 1)
    hours = wall_clock_hours(ZONE, day_start(fall), 900, 100)
    assert np.bincount(hours, minlength=24).tolist()[:3] == [4, 8, 4]  # 01:00-02:00 happens twice
    values = np.arange(100, dtype=np.int64)
    present = np.ones(100, bool)
    present[5] = False
    total, peak = hourly_buckets(values, present, hours)
    assert total.sum() == values[present].sum()
    assert total[1] == sum(v for v in range(4, 12) if v != 5) and peak[1] == 11
    spring = wall_clock_hours(ZONE, day_start(date(2026, 3, 8)), 900, 92)
    assert 2 not in spring.tolist() and len(spring) == 92
