"""One batch of raw messages through decode, VEE, storage and the running estimate.

The Faust agent calls :meth:`BatchProcessor.process` and acknowledges the messages only after it
returns: the database transaction has committed by then, so a crash before the offsets are
committed redelivers the batch, and the merge makes the redelivery change nothing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from config.settings import Settings
from storage.cache import EstimateCache
from storage import day_history
from storage.db_errors import DATA, TRANSIENT, classify, connect_waiting, connection_unusable, label
from meterdata.day_rows import group_days, hourly_buckets, wall_clock_hours
from storage.meter_facts import MeterDirectory, block_facts
from storage.reads import ExceptionRecord, StoreResult, record_day_exceptions, store_batch
from storage.schema import PartitionManager
from storage.tariffs import current_tariffs
from vee import blocks as vee
from meterdata.codec import NO_VERSION, BlockBatch, DecodeError, decode
from billing.estimate import rebuild_estimates, refresh_estimates
from streams.metrics import StreamMetrics
from vee.days import MAX_SLOTS, check_days
from vee.history import check_history
from vee.rules import (CONTINUOUS_FLOW, HIGH_HISTORY, HISTORY_WEEKS, LOW_HISTORY, SPIKE, SPIKE_SERVICES,
                               ZERO_RUN, rule_codes, severity)
from vee.thresholds import LIMITS, ThresholdSource

log = logging.getLogger(__name__)
TARIFF_RELOAD_SECONDS = 30.0


@dataclass(frozen=True)
class RawMessage:
    value: bytes | None
    key: bytes | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    timestamp: float | None = None  # Kafka append time, epoch seconds


@dataclass(frozen=True)
class DeadLetter:
    message: RawMessage
    reason: str
    detail: str


@dataclass
class BatchOutcome:
    messages: int = 0
    reads_received: int = 0
    reads_stored: int = 0  # valid reads merged (including harmless repeats)
    reads_flagged: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    stored: StoreResult = field(default_factory=StoreResult)
    accounts_estimated: int = 0
    first_append: float | None = None  # oldest Kafka append time of the batch (epoch s)
    newest_read_end: int | None = None  # end of the batch's newest interval (epoch s)

    def merge(self, other: "BatchOutcome") -> None:
        """Add the outcome of a part of the same batch (processed on its own)."""
        self.reads_received += other.reads_received
        self.reads_stored += other.reads_stored
        self.reads_flagged += other.reads_flagged
        self.dead_letters.extend(other.dead_letters)
        self.exceptions.extend(other.exceptions)
        self.accounts_estimated += other.accounts_estimated
        self.stored.touched |= other.stored.touched
        for name, pick in (("first_append", min), ("newest_read_end", max)):
            values = [v for v in (getattr(self, name), getattr(other, name)) if v is not None]
            setattr(self, name, pick(values) if values else None)


def exception_records(batch: BlockBatch, flags: np.ndarray, flagged_per_block: np.ndarray,
                      meter_id: np.ndarray, sources: list[RawMessage]) -> list[ExceptionRecord]:
    """One record per block with flagged intervals: its rules, per-interval flags and values."""
    records = []
    for block in np.flatnonzero(flagged_per_block):
        lo, hi = batch.offsets[block], batch.offsets[block + 1]
        block_flags = int(np.bitwise_or.reduce(flags[lo:hi]))
        rules = rule_codes(block_flags)
        source = sources[block]
        records.append(ExceptionRecord(
            meter_no=batch.meter_ids[block], meter_id=int(meter_id[block]) or None,
            channel=int(batch.channel[block]), block_start=int(batch.start[block]),
            interval_s=int(batch.interval_s[block]), rules=rules, severity=severity(rules),
            flagged_count=int(flagged_per_block[block]), values=batch.values[lo:hi].tolist(),
            flags=flags[lo:hi].astype(np.int64).tolist(),
            source=(source.topic, source.partition, source.offset) if source.offset is not None else None))
    return records


class Estimator:
    """The estimate stage: re-rates touched accounts into Redis on its own connection (so that it can
    run beside the store stage), reloading published tariffs every 30 s."""

    def __init__(self, conn: psycopg.Connection, cache: EstimateCache | None, metrics: StreamMetrics,
                 clock: Callable[[], float] = time.time):
        conn.autocommit = True
        self.conn = conn
        self.cache = cache
        self.metrics = metrics
        self.clock = clock
        self._tariffs = current_tariffs(conn)
        self._tariffs_loaded = clock()
        self._stale = False  # a refresh failed: some estimates may be behind until a rebuild

    def close(self) -> None:
        self.conn.close()

    def refresh(self, touched: set) -> int:
        """Returns accounts written. A database error that is not the data's (the database away, read-only,
        timing out) is raised for the caller to wait out; any other failure is counted and logged, not
        raised: the cache can be rebuilt from PostgreSQL, and a redelivered batch refreshes again."""
        if self.cache is None or not touched:
            return 0
        started = time.perf_counter()
        try:
            if self.clock() - self._tariffs_loaded > TARIFF_RELOAD_SECONDS:
                self._tariffs = current_tariffs(self.conn)
                self._tariffs_loaded = self.clock()
            if self._stale or not self.cache.is_warm():
                # Redis lost its data (flushed, restarted) or missed refreshes: rebuild every open
                # period's estimate from PostgreSQL before going on
                log.warning("estimates cache is cold or behind: rebuilding it from PostgreSQL")
                rebuilt = rebuild_estimates(self.conn, self.cache, self._tariffs)
                self.metrics.estimate_rebuilds.inc()
                self._stale = False
                log.warning("rebuilt %s account estimates", rebuilt)
            written = refresh_estimates(self.conn, self.cache, self._tariffs, touched)
        except Exception as error:
            if classify(error) not in (None, DATA):
                raise  # the database is away, read-only or timing out: the caller waits and retries
            self._stale = True
            self.metrics.estimate_failures.inc()
            log.exception("estimate refresh failed")
            return 0
        self.metrics.accounts_estimated.inc(written)
        self.metrics.stage_seconds.labels("estimate").observe(time.perf_counter() - started)
        return written


class BatchProcessor:
    def __init__(self, settings: Settings, conn: psycopg.Connection, cache: EstimateCache | None,
                 metrics: StreamMetrics | None = None, clock: Callable[[], float] = time.time):
        self.settings = settings
        conn.autocommit = True  # each transaction is explicit (conn.transaction())
        self.conn = conn
        self.cache = cache
        self.metrics = metrics or StreamMetrics()
        self.clock = clock
        self.directory = MeterDirectory()
        self.partitions = PartitionManager(conn)
        self.estimator = Estimator(conn, cache, self.metrics, clock)
        self._zone_cache: dict[str, ZoneInfo] = {}
        self.thresholds = ThresholdSource(conn)

    # ------------------------------------------------------------------ stages
    def decode(self, messages: list[RawMessage], outcome: BatchOutcome) -> tuple[BlockBatch, list[RawMessage]]:
        blocks, sources = [], []
        for message in messages:
            try:
                blocks.append(decode(message.value))
                sources.append(message)
            except DecodeError as error:
                outcome.dead_letters.append(DeadLetter(message, error.reason, error.detail))
                self.metrics.dlq_messages.labels(error.reason).inc()
        return BlockBatch.from_blocks(blocks), sources

    def _align_offsets(self, batch: BlockBatch, zones: list[str], zone_index: np.ndarray) -> np.ndarray:
        offsets = np.zeros(len(batch), np.int64)
        for block in range(len(batch)):
            zone = zones[zone_index[block]]
            info = self._zone_cache.get(zone) or self._zone_cache.setdefault(zone, ZoneInfo(zone))
            moment = datetime.fromtimestamp(int(batch.start[block]), info)
            offsets[block] = int(moment.utcoffset().total_seconds())
        return offsets

    def process(self, messages: list[RawMessage], refresh: bool = True) -> BatchOutcome:
        """Decode, validate and store ``messages``; then, unless ``refresh`` is False (the caller
        runs :meth:`refresh` itself, as a later stage), re-rate the touched accounts."""
        outcome = BatchOutcome(messages=len(messages))
        self.metrics.messages_received.inc(len(messages))
        self.metrics.batch_size.observe(len(messages))
        started = time.perf_counter()
        batch, sources = self.decode(messages, outcome)
        outcome.reads_received = batch.read_count
        appended = [m.timestamp for m in messages if m.timestamp]
        outcome.first_append = min(appended) if appended else None
        if not len(batch):
            return outcome
        outcome.newest_read_end = int((batch.start + np.diff(batch.offsets) * batch.interval_s).max())
        version_given = batch.version != NO_VERSION
        batch.version = self._versions(batch, sources)
        known = self.directory.lookup(self.conn, batch.meter_ids)
        facts = block_facts(batch.meter_ids, batch.interval_s, known, self.settings.utility_zone)
        align = self._align_offsets(batch, facts.zones, facts.zone_index)
        self._class_limits(batch, facts, known, align)
        flags = vee.validate(batch, facts.meter_index, facts.expected_interval, facts.low, facts.high, align,
                             int(self.clock()), self.settings.future_tolerance_seconds)
        validated = time.perf_counter()
        self.metrics.stage_seconds.labels("validate").observe(validated - started)

        counts = np.diff(batch.offsets)
        flagged_per_block = np.add.reduceat((flags != 0).astype(np.int64), batch.offsets[:-1])
        flagged_per_block[counts == 0] = 0
        outcome.exceptions = exception_records(batch, flags, flagged_per_block, facts.meter_id, sources)
        for record in outcome.exceptions:
            for rule in record.rules:
                self.metrics.vee_exceptions.labels(rule, record.severity).inc()

        valid = flags == 0
        block_of = np.repeat(np.arange(len(batch)), counts)[valid]
        moments = batch.interval_starts()[valid]
        rows = group_days(facts.meter_id[block_of], batch.channel[block_of], moments,
                          batch.interval_s[block_of], facts.zone_index[block_of], facts.zones,
                          batch.values[valid], batch.quality[valid].astype(np.int16),
                          batch.version[block_of], version_given[block_of])
        # the batch's own meters, by id (the directory holds every meter seen: never walk it per batch)
        batch_meters = {known[number].meter_id: (number, known[number]) for number in set(batch.meter_ids)
                        if number in known}
        agreement_of_meter = {meter_id: facts.service_agreement_id for meter_id, (_, facts) in batch_meters.items()}
        agreement_of_row = np.fromiter((agreement_of_meter[int(m)] for m in rows.meter_id), np.int64, len(rows))
        self.partitions.ensure(self.conn, {rows.local_day(r) for r in range(len(rows))})
        outcome.stored = self._store_with_retry(rows, agreement_of_row, outcome.exceptions)
        stored_at = time.perf_counter()
        self.metrics.stage_seconds.labels("store").observe(stored_at - validated)
        self.metrics.last_batch.set(self.clock())
        self.metrics.reads_superseded.inc(outcome.stored.reads_superseded)
        for table, count in (("interval_blocks", outcome.stored.rows_inserted + outcome.stored.rows_updated),
                             ("vee_exceptions", outcome.stored.exceptions_recorded)):
            self.metrics.rows_written.labels(table).inc(count)

        day_records, day_rules = self._check_days(rows, outcome.stored.merged, batch_meters)
        if day_records:
            record_day_exceptions(self.conn, day_records, day_rules)
            for record in day_records:
                self.metrics.vee_exceptions.labels(record.rules[0], record.severity).inc()
            outcome.exceptions.extend(day_records)
        outcome.reads_stored = int(valid.sum())
        outcome.reads_flagged = int(flagged_per_block.sum())
        self._count_reads([known[m].service if m in known else "unknown" for m in batch.meter_ids], counts,
                          flagged_per_block)

        if refresh:
            outcome.accounts_estimated = self.refresh(outcome.stored.touched)
            self.metrics.observe_estimated(outcome.first_append, outcome.newest_read_end, self.clock())
        return outcome

    def _versions(self, batch: BlockBatch, sources: list[RawMessage]) -> np.ndarray:
        """Per block, its version: the one it carries, else its Kafka append time in epoch ms (a replay
        from the dead-letter topic keeps the original's)."""
        version = batch.version.copy()
        missing = np.flatnonzero(version == NO_VERSION)
        if len(missing):
            now = int(self.clock() * 1000)
            version[missing] = [int(sources[b].timestamp * 1000) if sources[b].timestamp else now for b in missing]
        return version

    def _check_days(self, rows, merged: list, facts: dict) -> tuple[list[ExceptionRecord], list[str]]:
        """Day rules on the complete days this batch stored (checked again on a redelivery: recording
        is idempotent). ``facts``: meter id -> (meter number, facts) of the batch's meters."""
        complete = [r for r, m in enumerate(merged) if m.read_count == len(m.values) and len(m.values) <= MAX_SLOTS]
        if not complete:
            return [], []
        count = len(complete)
        thresholds = self.thresholds.get()
        values = np.zeros((count, MAX_SLOTS), np.int64)
        present = np.zeros((count, MAX_SLOTS), bool)
        hourly = np.zeros((count, 24), np.int64)
        water = np.zeros(count, bool)
        candidate = np.zeros(count, bool)
        ratio = np.zeros(count, np.float64)
        floor = np.zeros(count, np.int64)
        min_zero_run = np.zeros(count, np.int64)
        history_factor = np.zeros(count, np.float64)
        history_floor = np.zeros(count, np.float64)
        history_low = np.zeros(count, np.float64)
        slot_hours = []
        for index, row in enumerate(complete):
            merged_row = merged[row]
            slots = len(merged_row.values)
            values[index, :slots] = merged_row.values
            present[index, :slots] = merged_row.present
            _, meter = facts[int(rows.meter_id[row])]
            day, step = rows.local_day(row), int(rows.interval_s[row])

            def limit(parameter: str) -> float:
                return thresholds.value(meter.service, meter.meter_class, parameter, day)

            water[index] = meter.service == "water"
            candidate[index] = meter.service in SPIKE_SERVICES
            ratio[index] = limit("spike_ratio")
            floor[index] = int(meter.expected_high_per_hour * step / 3600 * limit("spike_floor_share"))
            min_zero_run[index] = int(limit("zero_run_hours") * 3600) // step
            history_factor[index] = limit("history_high_factor")
            history_floor[index] = meter.expected_high_per_hour * limit("history_floor_share")
            history_low[index] = limit("history_low_share")
            hours = wall_clock_hours(rows.zone[row], int(rows.day_start[row]), step, slots)
            slot_hours.append(hours)
            hourly[index] = hourly_buckets(merged_row.values, merged_row.present, hours)[0]
        flags = check_days(values, present, hourly, np.ones(count, bool), water, candidate, ratio, floor,
                           min_zero_run)
        like_hourly, like_days = self._like_days_hourly([int(rows.meter_id[r]) for r in complete],
                                                        [int(rows.channel[r]) for r in complete],
                                                        [rows.local_day(r) for r in complete])
        history_flags, hot_hours = check_history(hourly, like_hourly, like_days, history_factor, history_floor,
                                                 history_low)
        flags |= history_flags
        self._keep_zero_runs_of_occupied_premises(flags, [rows.local_day(r) for r in complete],
                                                  [facts[int(rows.meter_id[r])][1].service_agreement_id
                                                   for r in complete])
        records, rules = [], []
        for index in np.flatnonzero(flags):
            row = complete[index]
            meter_no, meter = facts[int(rows.meter_id[row])]
            slots = len(merged[row].values)
            for bit, rule in ((SPIKE, "spike"), (CONTINUOUS_FLOW, "continuous_flow"), (ZERO_RUN, "zero_consumption"),
                              (HIGH_HISTORY, "high_history"), (LOW_HISTORY, "low_history")):
                if not flags[index] & bit:
                    continue
                marks = np.zeros(slots, np.int64)
                if bit == HIGH_HISTORY:
                    marks[hot_hours[index][slot_hours[index]] & present[index, :slots]] = HIGH_HISTORY
                elif bit == SPIKE:
                    marks[int(np.argmax(np.where(present[index, :slots], values[index, :slots], -1)))] = SPIKE
                elif bit == LOW_HISTORY:
                    marks[present[index, :slots]] = LOW_HISTORY
                elif bit == ZERO_RUN:
                    marks[present[index, :slots] & (values[index, :slots] == 0)] = ZERO_RUN
                else:
                    marks[present[index, :slots]] = CONTINUOUS_FLOW
                records.append(ExceptionRecord(
                    meter_no=meter_no, meter_id=meter.meter_id, channel=int(rows.channel[row]),
                    block_start=int(rows.day_start[row]), interval_s=int(rows.interval_s[row]), rules=[rule],
                    severity=severity([rule]), flagged_count=0, values=values[index, :slots].tolist(),
                    flags=marks.tolist()))
                rules.append(rule)
        return records, rules

    def _class_limits(self, batch, facts, known: dict, align: np.ndarray) -> None:
        """Hard limits staff set per service and meter class (``high_per_hour``, ``low_per_hour``) replace
        the meter's own for the blocks of days they are in force; nothing to do when none is set."""
        thresholds = self.thresholds.get()
        wanted = [p for p in LIMITS if thresholds.sets(p)]
        if not wanted:
            return
        for block, number in enumerate(batch.meter_ids):
            meter = known.get(number)
            if meter is None:
                continue
            day = date.fromordinal(date(1970, 1, 1).toordinal() + (int(batch.start[block]) + int(align[block])) // 86400)
            step = int(batch.interval_s[block])
            for parameter in wanted:
                value = thresholds.value(meter.service, meter.meter_class, parameter, day)
                if value is None:
                    continue
                if parameter == "high_per_hour":
                    facts.high[block] = -(-int(value * step) // 3600)
                else:
                    facts.low[block] = int(value * step) // 3600

    def _like_days_hourly(self, meter_ids: list[int], channels: list[int], days: list) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the hourly sums of the same meter and channel on the same weekday of the weeks before
        (``HISTORY_WEEKS``), as (rows x weeks x 24) and how many of those days are there."""
        like = np.zeros((len(days), HISTORY_WEEKS, 24), np.int64)
        found = np.zeros(len(days), np.int64)
        wanted = [(m, c, d - timedelta(days=7 * week)) for m, c, d in zip(meter_ids, channels, days)
                  for week in range(1, HISTORY_WEEKS + 1)]
        stored = day_history.hourly_totals(self.conn, wanted)
        for row, key in enumerate(zip(meter_ids, channels, days)):
            for week in range(1, HISTORY_WEEKS + 1):
                hours = stored.get((key[0], key[1], key[2] - timedelta(days=7 * week)))
                if hours is not None and len(hours) == 24:
                    like[row, found[row]] = hours
                    found[row] += 1
        return like, found

    def _keep_zero_runs_of_occupied_premises(self, flags: np.ndarray, days: list, agreements: list[int]) -> None:
        """A long run of zero reads matters where the premise had use in the week before (occupied);
        elsewhere (a vacant premise, a new account) the flag is dropped."""
        candidates = np.flatnonzero(flags & ZERO_RUN)
        if not len(candidates):
            return
        occupied = day_history.occupied_days(self.conn, [agreements[i] for i in candidates],
                                             [days[i] for i in candidates])
        for index in candidates:
            if (agreements[index], days[index]) not in occupied:
                flags[index] &= ~np.uint32(ZERO_RUN)

    def _count_reads(self, service_of_block: list[str], counts: np.ndarray, flagged_per_block: np.ndarray) -> None:
        totals: dict[str, list[int]] = {}
        for block, service in enumerate(service_of_block):
            total = totals.setdefault(service, [0, 0])
            total[0] += int(counts[block])
            total[1] += int(flagged_per_block[block])
        for service, (received, flagged) in totals.items():
            self.metrics.reads_received.labels(service).inc(received)
            self.metrics.reads_flagged.labels(service).inc(flagged)
            self.metrics.reads_stored.labels(service).inc(received - flagged)

    def _store_with_retry(self, rows, agreement_of_row, exceptions) -> StoreResult:
        """Retry the batch transaction while the database fails in a way that passes (read-only, disk full,
        timeouts, lost connection: :mod:`storage.db_errors`): acknowledging a batch that was not stored
        would lose it. Back-off grows to 5 s; every retry is counted. Any other error is raised."""
        delay = 0.1
        while True:
            try:
                return store_batch(self.conn, rows, agreement_of_row, exceptions)
            except psycopg.Error as error:
                if classify(error) != TRANSIENT:
                    raise
                self.metrics.db_retries.labels(label(error)).inc()
                log.warning("batch transaction failed (%s); retrying in %.1fs", label(error), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                if connection_unusable(self.conn):
                    self.conn = self.estimator.conn = self._reconnect()

    def _reconnect(self) -> psycopg.Connection:
        return connect_waiting(self.settings.database_url, log)

    def close(self) -> None:
        for conn in {id(c): c for c in (self.conn, self.estimator.conn)}.values():
            conn.close()

    def refresh(self, touched: set) -> int:
        """Re-rate the accounts behind ``touched`` (on this processor's connection)."""
        return self.estimator.refresh(touched)
