"""Register sum check: where a head-end also sends register (dial) reads, the interval consumption
between two consecutive register reads must equal the dial's change within a tolerance. A dial that
went round (a register lower than the one before on a meter whose digits are known) has rolled over:
its change is taken modulo 10^digits. Numba kernel, with its NumPy reference beside it."""
from __future__ import annotations

import numba
import numpy as np

from vee.rules import REGISTER_SUM


@numba.njit(cache=True, nogil=True)
def check_register_pairs(first, second, interval_sum, modulus, share, units, change, flags):
    """Per pair of register reads: ``change`` = the dial's change (rolled over when ``modulus`` > 0 and
    the dial went down; -1 when it went down on a meter of unknown digits), ``flags`` = REGISTER_SUM
    where the intervals disagree with it beyond max(share[k] x change, units[k])."""
    for k in range(first.shape[0]):
        delta = second[k] - first[k]
        if delta < 0 and modulus[k] > 0:
            delta += modulus[k]
        if delta < 0:  # down on a meter of unknown digits (or by more than a turn of the dial)
            change[k] = -1
            flags[k] = REGISTER_SUM
            continue
        change[k] = delta
        allowed = max(share[k] * delta, float(units[k]))
        flags[k] = REGISTER_SUM if abs(interval_sum[k] - delta) > allowed else 0


def check_pairs(first: np.ndarray, second: np.ndarray, interval_sum: np.ndarray, modulus: np.ndarray,
                share, units) -> tuple[np.ndarray, np.ndarray]:
    """``share`` and ``units``: one tolerance for all pairs, or one per pair."""
    change = np.zeros(len(first), np.int64)
    flags = np.zeros(len(first), np.int64)
    shares = np.broadcast_to(np.asarray(share, np.float64), (len(first),)).copy()
    floors = np.broadcast_to(np.asarray(units, np.int64), (len(first),)).copy()
    check_register_pairs(first.astype(np.int64), second.astype(np.int64), interval_sum.astype(np.int64),
                         modulus.astype(np.int64), shares, floors, change, flags)
    return change, flags


def check_pairs_reference(first, second, interval_sum, modulus, share, units):
    """The same rule in plain NumPy, for the agreement test."""
    delta = second - first
    rolled = (delta < 0) & (modulus > 0)
    delta = np.where(rolled, delta + modulus, delta)
    unknown = delta < 0
    allowed = np.maximum(share * delta, units)
    flags = np.where(unknown | (np.abs(interval_sum - delta) > allowed), REGISTER_SUM, 0)
    return np.where(unknown, -1, delta), flags
