from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np

from meterdata.day_rows import StoredRow, group_days, local_days, merge_rows, pack_versions, unpack_versions

ZONE = "America/Chicago"


def day_start(day: date) -> int:
    return int(datetime.combine(day, time(0), ZoneInfo(ZONE)).timestamp())


def rows_for(start: int, count: int, interval: int = 900, values=None, meter: int = 1, version: int = 1,
             quality: int = 0):
    moments = start + np.arange(count, dtype=np.int64) * interval
    values = np.arange(count, dtype=np.int64) if values is None else np.asarray(values, np.int64)
    return group_days(np.full(count, meter, np.int64), np.ones(count, np.int16), moments,
                      np.full(count, interval, np.int32), np.zeros(count, np.int64), [ZONE], values,
                      np.full(count, quality, np.int16), np.full(count, version, np.int64))


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
    return StoredRow(merged.values, merged.present, merged.quality, unpack_versions(pack_versions(merged.version),
                                                                                    len(merged.values)))


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
    from meterdata.day_rows import hourly_buckets, wall_clock_hours

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


def arrive(start: int, *blocks):
    """Merge blocks (values, version, quality) one after another into one stored day row."""
    merged = None
    for values, version, quality in blocks:
        rows = rows_for(start, len(values), values=values, version=version, quality=quality)
        merged = merge_rows(rows, {} if merged is None else {0: as_stored(merged)})[0]
    return merged


def test_a_stale_resend_never_undoes_a_correction_in_either_order():
    start = day_start(date(2026, 10, 20))
    original, correction = ([5, 6, 7, 8], 100, 0), ([5, 16, 7, 8], 200, 0)
    for order in ((original, correction), (correction, original), (original, correction, original)):
        merged = arrive(start, *order)
        assert slots(merged, 4) == [5, 16, 7, 8], order
    stale = arrive(start, original, correction, original)
    assert stale.superseded == 4 and not stale.changed  # the stale resend was not taken and wrote nothing


def test_an_actual_is_never_replaced_by_an_estimate_and_a_staff_edit_by_neither():
    start = day_start(date(2026, 10, 20))
    actual, estimate = ([5, 6], 100, 0), ([9, 9], 300, 1)  # the head-end's estimate has the newer version
    assert slots(arrive(start, actual, estimate), 2) == [5, 6]
    assert slots(arrive(start, estimate, actual), 2) == [5, 6]
    vee_estimate = ([4, 4], 999, 203)
    assert slots(arrive(start, vee_estimate, actual), 2) == [5, 6]  # the actual came after cycle close
    edit, newer_actual = ([50, 60], 400, 200), ([7, 7], 500, 0)
    assert slots(arrive(start, actual, edit, newer_actual), 2) == [50, 60]
    assert slots(arrive(start, edit, actual), 2) == [50, 60]
    assert slots(arrive(start, actual, edit, ([51, 61], 600, 200)), 2) == [51, 61]  # a later edit wins


def test_the_strongest_of_two_reads_of_a_slot_in_one_batch_wins():
    start = day_start(date(2026, 10, 20))
    moments = np.array([start, start, start + 900], np.int64)
    rows = group_days(np.ones(3, np.int64), np.ones(3, np.int16), moments, np.full(3, 900, np.int32),
                      np.zeros(3, np.int64), [ZONE], np.array([20, 10, 3], np.int64), np.zeros(3, np.int16),
                      np.array([2, 1, 1], np.int64))  # the correction (version 2) came first in the batch
    merged = merge_rows(rows, {})[0]
    assert slots(merged, 2) == [20, 3] and merged.total == 23


def test_rows_stored_before_versions_take_any_later_reading():
    start = day_start(date(2026, 10, 20))
    first = merge_rows(rows_for(start, 2, values=[1, 2]), {})[0]
    legacy = StoredRow(first.values, first.present, first.quality)  # no versions column yet
    merged = merge_rows(rows_for(start, 2, values=[3, 4], version=1), {0: legacy})[0]
    assert slots(merged, 2) == [3, 4]
    again = merge_rows(rows_for(start, 2, values=[3, 4], version=1), {0: legacy})[0]
    assert again.changed  # rewritten once, with its versions


def test_versions_pack_as_runs():
    version = np.array([5] * 24 + [9] * 24 + [0] * 48, np.int64)
    packed = pack_versions(version)
    assert len(packed) == 3 * 10
    assert unpack_versions(packed, 96).tolist() == version.tolist()
    assert unpack_versions(None, 4).tolist() == [0, 0, 0, 0]


def test_a_later_arrival_of_the_same_values_writes_nothing_a_newer_given_version_does():
    start = day_start(date(2026, 10, 20))
    stored = as_stored(arrive(start, ([5, 6], 100, 0)))

    def again(version, given):
        rows = rows_for(start, 2, values=[5, 6], version=version)
        rows.version_given = np.full(2, given)
        return merge_rows(rows, {0: stored})[0]

    assert not again(200, given=False).changed  # a re-import: the same reads arriving later
    newer = again(200, given=True)  # the head-end's newer reading of the same values
    assert newer.changed and newer.version[:2].tolist() == [200, 200]
    assert slots(arrive(start, ([5, 6], 100, 0), ([5, 6], 300, 0), ([7, 7], 200, 0)), 2) == [5, 6]
