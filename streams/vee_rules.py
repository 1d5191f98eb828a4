"""VEE rule flags: one bit per validation rule, shared by the Numba kernels and their references."""
from __future__ import annotations

NEGATIVE = 1
HIGH = 2
LOW = 4
INTERVAL_MISMATCH = 8
MISALIGNED = 16
DUPLICATE = 32
FUTURE = 64
UNKNOWN_METER = 128

RULE_CODES = {
    NEGATIVE: "negative",
    HIGH: "high",
    LOW: "low",
    INTERVAL_MISMATCH: "interval_mismatch",
    MISALIGNED: "misaligned",
    DUPLICATE: "duplicate_conflict",
    FUTURE: "future",
    UNKNOWN_METER: "unknown_meter",
}

# how far back a duplicate search looks among earlier blocks of the same meter and channel in one
# batch; a conflicting duplicate further back is flagged without comparing values
DUPLICATE_LOOKBACK = 64


def rule_codes(flags: int) -> list[str]:
    return [code for bit, code in RULE_CODES.items() if flags & bit]
