import numpy as np
from hypothesis import given, settings, strategies as st

from vee.estimation import FLAT, LIKE_DAY, LINEAR, fill_gaps, fill_gaps_reference, like_day_average


def row(values, missing):
    values = np.array(values, np.int64)
    present = np.ones(len(values), bool)
    present[list(missing)] = False
    return values[None, :], present[None, :]


def test_linear_interpolation_rounds_half_up():
    values, present = row([10, 0, 0, 0, 21], {1, 2, 3})
    filled, quality = fill_gaps(values, present, np.array([5]), max_linear=4)
    assert filled[0, 1:4].tolist() == [13, 16, 18]  # 12.75, 15.5, 18.25
    assert quality[0].tolist() == [0, LINEAR, LINEAR, LINEAR, 0]


def test_a_long_gap_uses_like_days_and_an_edge_gap_is_flat_filled():
    values, present = row([5, 0, 0, 0, 0, 0, 9, 0], {1, 2, 3, 4, 5, 7})
    like = np.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    filled, quality = fill_gaps(values, present, np.array([8]), max_linear=2, like=like,
                                like_present=np.ones((1, 8), bool))
    assert filled[0, 1:6].tolist() == [2, 3, 4, 5, 6] and (quality[0, 1:6] == LIKE_DAY).all()
    assert filled[0, 7] == 8 and quality[0, 7] == LIKE_DAY  # like days win at the edge too
    filled, quality = fill_gaps(values, present, np.array([8]), max_linear=2)
    assert (quality[0, 1:6] == 0).all()  # too long, no like days: left for staff
    assert filled[0, 7] == 9 and quality[0, 7] == FLAT


def test_a_fall_back_day_of_100_slots():
    values = np.zeros((1, 100), np.int64)
    values[0] = np.arange(100)
    present = np.ones((1, 100), bool)
    present[0, 4:8] = False  # 01:00-02:00, the first time
    filled, quality = fill_gaps(values, present, np.array([100]), max_linear=8)
    assert filled[0, 4:8].tolist() == [4, 5, 6, 7] and (quality[0, 4:8] == LINEAR).all()


def test_like_day_average_counts_only_the_days_that_have_the_slot():
    history = np.array([[10, 20, 30], [11, 0, 33]])
    present = np.array([[True, True, True], [True, False, True]])
    average, has = like_day_average(history, present)
    assert average.tolist() == [11, 20, 32] and has.all()  # 10.5 -> 11, 31.5 -> 32


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 10))
def test_kernel_agrees_with_the_reference(seed, max_linear):
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(1, 8))
    values = rng.integers(0, 500, (rows, 100))
    present = rng.random((rows, 100)) < rng.uniform(0.3, 1.0)
    slots = rng.choice([92, 96, 100], rows)
    like = rng.integers(0, 500, (rows, 100))
    like_present = rng.random((rows, 100)) < 0.9
    kernel = fill_gaps(values, present, slots, max_linear, like, like_present)
    reference = fill_gaps_reference(values, present, slots, max_linear, like, like_present)
    assert kernel[0].tolist() == reference[0].tolist() and kernel[1].tolist() == reference[1].tolist()
