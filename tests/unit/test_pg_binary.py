import numpy as np
from hypothesis import given, strategies as st

from storage.pg_binary import array_bytes, parse_array


@given(st.lists(st.tuples(st.integers(-(2**62), 2**62), st.booleans()), min_size=1, max_size=120))
def test_int8_arrays_round_trip_with_nulls(slots):
    values = np.array([v if p else 0 for v, p in slots], np.int64)
    present = np.array([p for _, p in slots], bool)
    parsed, parsed_present = parse_array(array_bytes(values, present))
    assert parsed.tolist() == values.tolist() and parsed_present.tolist() == present.tolist()


def test_int2_array_without_nulls():
    values, present = parse_array(array_bytes(np.array([0, 1, -2, 300], np.int16)))
    assert values.tolist() == [0, 1, -2, 300] and present.all()
