"""The register sum check kernel against its NumPy reference, and on hand-made cases."""
import numpy as np
from hypothesis import given, settings, strategies as st

from vee.registers import check_pairs, check_pairs_reference
from vee.rules import REGISTER_SUM


def test_hand_made_cases():
    first = np.array([1000, 1000, 99_990, 500, 1000])
    second = np.array([1100, 1200, 40, 400, 1000])
    interval_sum = np.array([102, 100, 50, 0, 3])
    modulus = np.array([0, 0, 100_000, 0, 0])
    change, flags = check_pairs(first, second, interval_sum, modulus, 0.02, 10)
    # within tolerance; 100 off a change of 200; rolled over at 100,000 (change 50); went down with
    # unknown digits; no change but 3 units of intervals (under the 10-unit floor)
    assert change.tolist() == [100, 200, 50, -1, 0]
    assert flags.tolist() == [0, REGISTER_SUM, 0, REGISTER_SUM, 0]


values = st.integers(min_value=0, max_value=10**12)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(values, values, values, st.sampled_from([0, 10**6, 10**9, 10**13])), min_size=1,
                max_size=50),
       st.floats(min_value=0, max_value=0.2), st.integers(min_value=0, max_value=1000))
def test_kernel_agrees_with_reference(rows, share, units):
    first, second, interval_sum, modulus = (np.array(column, np.int64) for column in zip(*rows))
    change, flags = check_pairs(first, second, interval_sum, modulus, share, units)
    expected_change, expected_flags = check_pairs_reference(first, second, interval_sum, modulus, share, units)
    assert change.tolist() == expected_change.tolist()
    assert flags.tolist() == expected_flags.tolist()
