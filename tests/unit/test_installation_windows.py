"""Which slots of a day row belong to which installation, and which agreement holds a service point."""
from datetime import date

import numpy as np
from hypothesis import given, strategies as st

from cis.service import occupant
from meterdata.windows import Installation, masked_totals, split_row

DAY = 1_790_000_000  # a day row's start (epoch s)


def test_a_row_inside_one_installation_goes_whole_to_its_point():
    split = split_row(DAY, 3600, 24, [Installation(7, DAY - 86_400, None)])
    assert split.parts == [(7, None)] and split.outside is None


def test_an_exchange_at_noon_splits_the_day_between_the_two_meters_points():
    old = Installation(7, DAY - 86_400, DAY + 12 * 3600)
    split = split_row(DAY, 3600, 24, [old])
    (point, mask), = split.parts
    assert point == 7 and mask.tolist() == [True] * 12 + [False] * 12
    assert split.outside.tolist() == [False] * 12 + [True] * 12
    # an interval belongs to the installation in force when it begins
    split = split_row(DAY, 900, 96, [Installation(7, DAY - 86_400, DAY + 3600 + 1)])
    assert int(split.parts[0][1].sum()) == 5


def test_a_meter_moved_between_points_inside_a_day():
    split = split_row(DAY, 3600, 24, [Installation(1, DAY - 10, DAY + 6 * 3600), Installation(2, DAY + 8 * 3600, None)])
    assert [p for p, _ in split.parts] == [1, 2]
    assert int(split.outside.sum()) == 2  # 06:00 and 07:00: installed nowhere


@given(st.lists(st.integers(0, 23), min_size=0, max_size=4, unique=True).map(sorted),
       st.lists(st.integers(0, 1000), min_size=24, max_size=24), st.lists(st.booleans(), min_size=24, max_size=24))
def test_every_present_read_is_counted_once_by_its_parts_or_outside(cuts, values, present):
    # alternate installed / not installed between the cut hours, at alternating points
    installations = [Installation(number % 3, DAY + a * 3600, DAY + b * 3600)
                     for number, (a, b) in enumerate(zip([0] + cuts, cuts + [24])) if number % 2 == 0 and b > a]
    values, present = np.array(values, np.int64), np.array(present)
    quality = np.zeros(24, np.int16)
    split = split_row(DAY, 3600, 24, installations)
    total = sum(masked_totals(values, present, quality, mask)[0] for _, mask in split.parts)
    outside = 0 if split.outside is None else masked_totals(values, present, quality, split.outside)[0]
    assert total + outside == int(values[present].sum())


def test_one_agreement_holds_a_service_point_on_a_day():
    held = [(1, "A", date(2026, 9, 1), date(2026, 9, 21), "stopped"), (2, "B", date(2026, 9, 25), None, "active")]
    assert occupant(held, date(2026, 9, 21), date(2026, 9, 25)) is None  # vacant
    assert occupant(held, date(2026, 9, 20), None)[0] == 1
    assert occupant(held, date(2026, 10, 1), None)[0] == 2
