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
SPIKE = 256  # day rule
CONTINUOUS_FLOW = 512  # day rule (water)
ZERO_RUN = 1024  # day rule: no consumption for hours at an occupied premise
GAP = 2048  # cycle close: intervals that never arrived, estimated
GAP_RULE = "gap"
REGISTER_SUM = 4096  # cycle close: the intervals between two register reads do not add up to the dial's change
REGISTER_RULE = "register_sum"
HIGH_HISTORY = 8192  # day rule: an hour far above the same hour of the meter's like days
LOW_HISTORY = 16384  # day rule: a day far below every one of the meter's like days

RULE_CODES = {
    NEGATIVE: "negative",
    HIGH: "high",
    LOW: "low",
    INTERVAL_MISMATCH: "interval_mismatch",
    MISALIGNED: "misaligned",
    DUPLICATE: "duplicate_conflict",
    FUTURE: "future",
    UNKNOWN_METER: "unknown_meter",
    SPIKE: "spike",
    CONTINUOUS_FLOW: "continuous_flow",
    ZERO_RUN: "zero_consumption",
    GAP: GAP_RULE,
    REGISTER_SUM: REGISTER_RULE,
    HIGH_HISTORY: "high_history",
    LOW_HISTORY: "low_history",
}

# what a flagged read means for billing: blocking exceptions hold the account's bill until staff act
INFORMATION, ISSUE, BLOCKS_BILLING = "information", "issue", "blocks_billing"
SEVERITY = {
    "negative": BLOCKS_BILLING, "high": BLOCKS_BILLING, "low": INFORMATION,
    "interval_mismatch": BLOCKS_BILLING, "misaligned": BLOCKS_BILLING, "duplicate_conflict": BLOCKS_BILLING,
    "future": BLOCKS_BILLING, "unknown_meter": ISSUE,  # no agreement to hold: staff map or discard the meter
    "spike": BLOCKS_BILLING, "continuous_flow": INFORMATION,  # a possible leak: told to the customer
    "zero_consumption": ISSUE,  # a stopped meter or a vacant premise: staff look, the bill goes out
    "gap": INFORMATION,  # estimated at cycle close (the reads say how); a late actual read replaces them
    "register_sum": ISSUE,  # intervals and dial disagree: a lost or doubled interval, a misread dial
    "high_history": ISSUE,  # far above the meter's own history: staff look, the bill goes out
    "low_history": INFORMATION,  # far below it: away from home, or a meter slowing down
}
# the day rules' thresholds; spikes are checked on electric interval data (water use is bursty, gas use
# within a day too even to tell a spike by a ratio)
SPIKE_RATIO = 6.0
SPIKE_SERVICES = ("electric",)
SPIKE_FLOOR_SHARE = 0.05  # of the meter's high limit per interval: tiny loads never spike
ZERO_RUN_HOURS = {"electric": 12}  # hours of zero reads that need a look where the last week had use
# high against the meter's own history: an hour above factor x the most that hour used on the like days
# (same weekday, the weeks before) plus a floor (a share of the meter's hourly hard limit)
HISTORY_HIGH_FACTOR = 4.0
HISTORY_FLOOR_SHARE = 0.1
HISTORY_WEEKS = 4
# low against history: a day below this share of the least any like day used (like days above 24 floors)
HISTORY_LOW_SHARE = 0.1
HISTORY_MIN_DAYS = 2  # like days with data needed before the rule speaks
# register sum check: |intervals - dial change| may be this share of the change, or this many stored units
REGISTER_TOLERANCE_SHARE = 0.02
REGISTER_TOLERANCE_UNITS = 10
_RANK = {INFORMATION: 0, ISSUE: 1, BLOCKS_BILLING: 2}


def severity(rules: list[str]) -> str:
    """The gravest severity among ``rules``."""
    return max((SEVERITY.get(rule, ISSUE) for rule in rules), key=_RANK.__getitem__, default=INFORMATION)


# how far back a duplicate search looks among earlier blocks of the same meter and channel in one
# batch; a conflicting duplicate further back is flagged without comparing values
DUPLICATE_LOOKBACK = 64


def rule_codes(flags: int) -> list[str]:
    return [code for bit, code in RULE_CODES.items() if flags & bit]
