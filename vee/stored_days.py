"""VEE on the days a batch stored: the day rules (spike, continuous flow, zero consumption) and the
rules against the meter's own history, on every complete stored day, with the thresholds in force for
the meter's service and class on that day. Recording is idempotent: a redelivered batch checks again
and records nothing twice."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import psycopg

from meterdata.day_rows import hourly_buckets, wall_clock_hours
from storage import day_history
from storage.reads import ExceptionRecord
from vee.days import MAX_SLOTS, check_days
from vee.history import check_history
from vee.rules import (CONTINUOUS_FLOW, HIGH_HISTORY, HISTORY_WEEKS, LOW_HISTORY, SPIKE, SPIKE_SERVICES, ZERO_RUN,
                       severity)
from vee.thresholds import Thresholds


@dataclass
class DayInputs:
    """The complete stored days of a batch as kernel inputs, one row each (``MAX_SLOTS`` wide), with the
    thresholds in force for each day's meter."""

    rows: list[int]  # the day rows' positions in the batch's rows
    values: np.ndarray
    present: np.ndarray
    hourly: np.ndarray  # (days x 24) wall-clock hour sums
    slot_hours: list[np.ndarray]  # per day, each slot's wall-clock hour
    water: np.ndarray
    spike_candidate: np.ndarray
    spike_ratio: np.ndarray
    spike_floor: np.ndarray
    min_zero_run: np.ndarray
    history_factor: np.ndarray
    history_floor: np.ndarray
    history_low: np.ndarray

    @classmethod
    def empty(cls, complete: list[int]) -> "DayInputs":
        count = len(complete)
        return cls(complete, np.zeros((count, MAX_SLOTS), np.int64), np.zeros((count, MAX_SLOTS), bool),
                   np.zeros((count, 24), np.int64), [], np.zeros(count, bool), np.zeros(count, bool),
                   np.zeros(count, np.float64), np.zeros(count, np.int64), np.zeros(count, np.int64),
                   np.zeros(count, np.float64), np.zeros(count, np.float64), np.zeros(count, np.float64))


# the day rules' bits and codes, in the order their exceptions are recorded
DAY_RULES = ((SPIKE, "spike"), (CONTINUOUS_FLOW, "continuous_flow"), (ZERO_RUN, "zero_consumption"),
             (HIGH_HISTORY, "high_history"), (LOW_HISTORY, "low_history"))


def check_stored_days(conn: psycopg.Connection, thresholds: Thresholds, rows, merged: list,
                      facts: dict) -> tuple[list[ExceptionRecord], list[str]]:
    """Day rules on the complete days this batch stored (checked again on a redelivery: recording
    is idempotent). ``facts``: meter id -> (meter number, facts) of the batch's meters. Returns the
    exception records and the rule of each."""
    complete = [r for r, m in enumerate(merged) if m.read_count == len(m.values) and len(m.values) <= MAX_SLOTS]
    if not complete:
        return [], []
    days = day_inputs(thresholds, rows, merged, facts, complete)
    flags = check_days(days.values, days.present, days.hourly, np.ones(len(complete), bool), days.water,
                       days.spike_candidate, days.spike_ratio, days.spike_floor, days.min_zero_run)
    local_days = [rows.local_day(r) for r in complete]
    like_hourly, like_days = like_days_hourly(conn, [int(rows.meter_id[r]) for r in complete],
                                              [int(rows.channel[r]) for r in complete], local_days)
    history_flags, hot_hours = check_history(days.hourly, like_hourly, like_days, days.history_factor,
                                             days.history_floor, days.history_low)
    flags |= history_flags
    keep_zero_runs_of_occupied_premises(conn, flags, local_days,
                                        [facts[int(rows.meter_id[r])][1].service_point_id for r in complete])
    return day_records(rows, merged, facts, days, flags, hot_hours)


def day_inputs(thresholds: Thresholds, rows, merged: list, facts: dict, complete: list[int]) -> DayInputs:
    days = DayInputs.empty(complete)
    for index, row in enumerate(complete):
        merged_row = merged[row]
        slots = len(merged_row.values)
        days.values[index, :slots] = merged_row.values
        days.present[index, :slots] = merged_row.present
        _, meter = facts[int(rows.meter_id[row])]
        day, step = rows.local_day(row), int(rows.interval_s[row])

        def limit(parameter: str) -> float:
            return thresholds.value(meter.service, meter.meter_class, parameter, day)

        days.water[index] = meter.service == "water"
        days.spike_candidate[index] = meter.service in SPIKE_SERVICES
        days.spike_ratio[index] = limit("spike_ratio")
        days.spike_floor[index] = int(meter.expected_high_per_hour * step / 3600 * limit("spike_floor_share"))
        days.min_zero_run[index] = int(limit("zero_run_hours") * 3600) // step
        days.history_factor[index] = limit("history_high_factor")
        days.history_floor[index] = meter.expected_high_per_hour * limit("history_floor_share")
        days.history_low[index] = limit("history_low_share")
        hours = wall_clock_hours(rows.zone[row], int(rows.day_start[row]), step, slots)
        days.slot_hours.append(hours)
        days.hourly[index] = hourly_buckets(merged_row.values, merged_row.present, hours)[0]
    return days


def day_records(rows, merged: list, facts: dict, days: DayInputs, flags: np.ndarray,
                hot_hours: np.ndarray) -> tuple[list[ExceptionRecord], list[str]]:
    """One exception record per flagged day and rule, with the slots the rule marks as evidence."""
    records, rules = [], []
    for index in np.flatnonzero(flags):
        row = days.rows[index]
        meter_no, meter = facts[int(rows.meter_id[row])]
        slots = len(merged[row].values)
        present, values = days.present[index, :slots], days.values[index, :slots]
        for bit, rule in DAY_RULES:
            if not flags[index] & bit:
                continue
            marks = np.zeros(slots, np.int64)
            if bit == HIGH_HISTORY:
                marks[hot_hours[index][days.slot_hours[index]] & present] = HIGH_HISTORY
            elif bit == SPIKE:
                marks[int(np.argmax(np.where(present, values, -1)))] = SPIKE
            elif bit == ZERO_RUN:
                marks[present & (values == 0)] = ZERO_RUN
            else:  # continuous flow, low against history: the whole day
                marks[present] = bit
            records.append(ExceptionRecord(
                meter_no=meter_no, meter_id=meter.meter_id, channel=int(rows.channel[row]),
                block_start=int(rows.day_start[row]), interval_s=int(rows.interval_s[row]), rules=[rule],
                severity=severity([rule]), flagged_count=0, values=values.tolist(), flags=marks.tolist()))
            rules.append(rule)
    return records, rules


def like_days_hourly(conn: psycopg.Connection, meter_ids: list[int], channels: list[int], days: list) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the hourly sums of the same channel on the same weekday of the weeks before
    (``HISTORY_WEEKS``), of the meter or, before it was installed, of the meter it replaced at its
    service point, as (rows x weeks x 24) and how many of those days are there."""
    like = np.zeros((len(days), HISTORY_WEEKS, 24), np.int64)
    found = np.zeros(len(days), np.int64)
    wanted = [(m, c, d - timedelta(days=7 * week)) for m, c, d in zip(meter_ids, channels, days)
              for week in range(1, HISTORY_WEEKS + 1)]
    stored = day_history.hourly_totals(conn, wanted)
    for row, key in enumerate(zip(meter_ids, channels, days)):
        for week in range(1, HISTORY_WEEKS + 1):
            hours = stored.get((key[0], key[1], key[2] - timedelta(days=7 * week)))
            if hours is not None and len(hours) == 24:
                like[row, found[row]] = hours
                found[row] += 1
    return like, found


def keep_zero_runs_of_occupied_premises(conn: psycopg.Connection, flags: np.ndarray, days: list, agreements: list[int]) -> None:
    """A long run of zero reads matters where the premise had use in the week before (occupied);
    elsewhere (a vacant premise, a new account) the flag is dropped."""
    candidates = np.flatnonzero(flags & ZERO_RUN)
    if not len(candidates):
        return
    occupied = day_history.occupied_days(conn, [agreements[i] for i in candidates],
                                         [days[i] for i in candidates])
    for index in candidates:
        if (agreements[index], days[index]) not in occupied:
            flags[index] &= ~np.uint32(ZERO_RUN)
