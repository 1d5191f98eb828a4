"""VEE rules: the registry of every validation rule with its flag bit, code, severity and the family
module that checks it, shared by the Numba kernels and their NumPy references.

Flags are 32 bits (``FLAG_DTYPE``; ``bigint[]`` in PostgreSQL): a rule is one registry entry here and
a kernel with its reference in its family's module (see docs/architecture.md)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLAG_DTYPE = np.uint32
FLAG_BITS = 32

# what a flagged read means for billing: blocking exceptions hold the account's bill until staff act
INFORMATION, ISSUE, BLOCKS_BILLING = "information", "issue", "blocks_billing"


@dataclass(frozen=True)
class Rule:
    bit: int
    code: str
    severity: str
    family: str  # the vee module whose kernel raises it
    meaning: str


REGISTRY = (
    Rule(1, "negative", BLOCKS_BILLING, "vee.blocks", "a consumption read below zero"),
    Rule(2, "high", BLOCKS_BILLING, "vee.blocks", "above the meter's hard limit per interval"),
    Rule(4, "low", INFORMATION, "vee.blocks", "below the meter's low limit"),
    Rule(8, "interval_mismatch", BLOCKS_BILLING, "vee.blocks", "the block's interval is not the meter's"),
    Rule(16, "misaligned", BLOCKS_BILLING, "vee.blocks", "intervals off the meter's interval grid"),
    Rule(32, "duplicate_conflict", BLOCKS_BILLING, "vee.blocks", "the same interval twice with other values"),
    Rule(64, "future", BLOCKS_BILLING, "vee.blocks", "an interval that has not ended yet"),
    # no agreement to hold: staff map or discard the meter
    Rule(128, "unknown_meter", ISSUE, "vee.blocks", "a meter not in the directory"),
    Rule(256, "spike", BLOCKS_BILLING, "vee.days", "an interval far above the rest of its day"),
    # a possible leak: told to the customer
    Rule(512, "continuous_flow", INFORMATION, "vee.days", "water flowing every interval of a day"),
    # a stopped meter or a vacant premise: staff look, the bill goes out
    Rule(1024, "zero_consumption", ISSUE, "vee.days", "hours of no use at a premise that had use"),
    # estimated at cycle close (the reads say how); a late actual read replaces them
    Rule(2048, "gap", INFORMATION, "vee.gap_fill", "intervals that never arrived, estimated"),
    # intervals and dial disagree: a lost or doubled interval, a misread dial
    Rule(4096, "register_sum", ISSUE, "vee.registers", "intervals do not add up to the dial's change"),
    # far above the meter's own history: staff look, the bill goes out
    Rule(8192, "high_history", ISSUE, "vee.history", "an hour far above the same hour of like days"),
    # far below it: away from home, or a meter slowing down
    Rule(16384, "low_history", INFORMATION, "vee.history", "a day far below every like day"),
    # stored, never billed: the meter was not installed anywhere then (an install keyed late, a removed meter)
    Rule(32768, "outside_installation", ISSUE, "storage.attribution",
         "reads of a meter outside its installations"),
    # stored, never billed: a vacant premise, use after a stop
    Rule(65536, "unbilled_consumption", ISSUE, "storage.attribution",
         "use at a service point with no agreement in force"),
)
BY_CODE = {rule.code: rule for rule in REGISTRY}
RULE_CODES = {rule.bit: rule.code for rule in REGISTRY}
SEVERITY = {rule.code: rule.severity for rule in REGISTRY}

NEGATIVE, HIGH, LOW, INTERVAL_MISMATCH, MISALIGNED, DUPLICATE, FUTURE, UNKNOWN_METER = (
    BY_CODE[c].bit for c in ("negative", "high", "low", "interval_mismatch", "misaligned", "duplicate_conflict",
                             "future", "unknown_meter"))
SPIKE, CONTINUOUS_FLOW, ZERO_RUN = (BY_CODE[c].bit for c in ("spike", "continuous_flow", "zero_consumption"))
GAP_RULE, REGISTER_RULE = "gap", "register_sum"
GAP, REGISTER_SUM = BY_CODE[GAP_RULE].bit, BY_CODE[REGISTER_RULE].bit
HIGH_HISTORY, LOW_HISTORY = BY_CODE["high_history"].bit, BY_CODE["low_history"].bit
OUTSIDE_RULE, UNBILLED_RULE = "outside_installation", "unbilled_consumption"
OUTSIDE_INSTALLATION, UNBILLED = BY_CODE[OUTSIDE_RULE].bit, BY_CODE[UNBILLED_RULE].bit


def check_registry(rules: tuple[Rule, ...] = REGISTRY) -> list[str]:
    """What is wrong with a registry: a bit that is not one bit of the flag width, a bit or code used
    twice, an unknown severity."""
    problems = []
    bits = [r.bit for r in rules]
    codes = [r.code for r in rules]
    for rule in rules:
        if rule.bit <= 0 or rule.bit & (rule.bit - 1) or rule.bit >= 1 << FLAG_BITS:
            problems.append(f"{rule.code}: bit {rule.bit} is not one bit of {FLAG_BITS}")
        if rule.severity not in (INFORMATION, ISSUE, BLOCKS_BILLING):
            problems.append(f"{rule.code}: unknown severity {rule.severity}")
    problems += [f"bit {b} used twice" for b in sorted(set(bits)) if bits.count(b) > 1]
    problems += [f"code {c} used twice" for c in sorted(set(codes)) if codes.count(c) > 1]
    return problems


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
