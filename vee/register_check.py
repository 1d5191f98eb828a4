"""The register sum check on stored data: for every pair of consecutive register reads of an interval
meter, the intervals stored between them (all of them there) against the dial's change; a
disagreement beyond the tolerance (thresholds ``register_share`` and ``register_units``) is an exception
(``register_sum``, issue) with both register reads, the change and the interval sum as evidence,
recorded once per meter and pair."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import psycopg

from storage.reads import ExceptionRecord, record_day_exceptions
from storage.registers import register_pairs
from vee.registers import check_pairs
from storage.vee_thresholds import rows as threshold_rows
from vee.rules import REGISTER_RULE, REGISTER_SUM, severity
from vee.thresholds import Thresholds



def check_registers(conn: psycopg.Connection, meter_ids: list[int], first_day: date, end_day: date) -> int:
    """Check the register pairs read from the day before ``first_day`` to the day after ``end_day``;
    returns the exceptions recorded. Pairs whose intervals are not all stored are left for later."""
    start = datetime.combine(first_day - timedelta(days=1), time(0), timezone.utc)
    stop = datetime.combine(end_day + timedelta(days=1), time(0), timezone.utc)
    rows = register_pairs(conn, meter_ids, start, stop)
    complete = [r for r in rows
                if r[11] == int((r[8] - r[6]).total_seconds()) // r[3] and r[11] > 0]
    if not complete:
        return 0
    modulus = np.array([10 ** (r[5] - r[4]) if r[5] is not None and r[5] - r[4] <= 18 else 0 for r in complete],
                       np.int64)
    thresholds = Thresholds(threshold_rows(conn))

    def limit(row, parameter: str) -> float:
        return thresholds.value(row[12], row[13], parameter, row[8].date())

    change, flags = check_pairs(np.array([r[7] for r in complete]), np.array([r[9] for r in complete]),
                                np.array([int(r[10]) for r in complete]), modulus,
                                [limit(r, "register_share") for r in complete],
                                [int(limit(r, "register_units")) for r in complete])
    records = []
    for row, moved, flag in zip(complete, change, flags):
        if not flag:
            continue
        meter_id, meter_no, channel, interval_s, _, _, first_at, first_value, _, second_value, total = row[:11]
        records.append(ExceptionRecord(meter_no, meter_id, channel, int(first_at.timestamp()), interval_s, [REGISTER_RULE],
                                       severity([REGISTER_RULE]), 0,
                                       [int(first_value), int(second_value), int(moved), int(total)],
                                       [0, 0, REGISTER_SUM, REGISTER_SUM]))
    return record_day_exceptions(conn, records, [REGISTER_RULE] * len(records))
