"""One batch of raw messages through decode, VEE, storage and the running estimate.

The Faust agent calls :meth:`BatchProcessor.process` and acknowledges the messages only after it
returns: the database transaction has committed by then, so a crash before the offsets are
committed redelivers the batch, and the merge makes the redelivery change nothing.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from config.settings import Settings
from storage.cache import EstimateCache
from storage.db_errors import DATA, TRANSIENT, classify, connect_waiting, connection_unusable, label
from meterdata.day_rows import group_days
from storage.meter_facts import BlockFacts, MeterDirectory, block_facts
from storage.reads import ExceptionRecord, StoreResult, record_day_exceptions, store_batch
from storage.schema import PartitionManager
from storage.tariffs import current_tariffs
from vee import blocks as vee
from meterdata.codec import NO_VERSION, BlockBatch, DecodeError, decode
from billing.estimate import rebuild_estimates, refresh_estimates
from streams.metrics import StreamMetrics
from vee.rules import rule_codes, severity
from vee.stored_days import check_stored_days
from vee.thresholds import ThresholdSource, apply_class_limits

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


@dataclass
class Checked:
    """A batch after the block rules: its meters, each read valid or not, and counts per block."""

    known: dict  # meter number -> facts, of the meters the directory knows
    facts: BlockFacts  # per block: meter id, zone, limits
    valid: np.ndarray  # per read: no rule flagged it
    version_given: np.ndarray  # per block: the head-end gave the version (not the arrival time)
    counts: np.ndarray  # reads per block
    flagged_per_block: np.ndarray
    batch_meters: dict  # meter id -> (meter number, facts) of the batch's known meters


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
        batch, sources = self.decode(messages, outcome)
        outcome.reads_received = batch.read_count
        appended = [m.timestamp for m in messages if m.timestamp]
        outcome.first_append = min(appended) if appended else None
        if not len(batch):
            return outcome
        outcome.newest_read_end = int((batch.start + np.diff(batch.offsets) * batch.interval_s).max())
        checked = self._validate(batch, sources, outcome)
        rows = self._store(batch, checked, outcome)
        self._check_stored_days(rows, checked.batch_meters, outcome)
        outcome.reads_stored = int(checked.valid.sum())
        outcome.reads_flagged = int(checked.flagged_per_block.sum())
        self._count_reads([checked.known[m].service if m in checked.known else "unknown" for m in batch.meter_ids],
                          checked.counts, checked.flagged_per_block)
        if refresh:
            outcome.accounts_estimated = self.refresh(outcome.stored.touched)
            self.metrics.observe_estimated(outcome.first_append, outcome.newest_read_end, self.clock())
        return outcome

    def _validate(self, batch: BlockBatch, sources: list[RawMessage], outcome: BatchOutcome) -> "Checked":
        """Give every block its version, look its meter up and run the block rules; the flagged blocks
        become the outcome's exceptions."""
        started = time.perf_counter()
        version_given = batch.version != NO_VERSION
        batch.version = self._versions(batch, sources)
        known = self.directory.lookup(self.conn, batch.meter_ids)
        facts = block_facts(batch.meter_ids, batch.interval_s, known, self.settings.utility_zone)
        align = self._align_offsets(batch, facts.zones, facts.zone_index)
        apply_class_limits(self.thresholds.get(), batch, facts, known, align)
        flags = vee.validate(batch, facts.meter_index, facts.expected_interval, facts.low, facts.high, align,
                             int(self.clock()), self.settings.future_tolerance_seconds)
        counts = np.diff(batch.offsets)
        flagged_per_block = np.add.reduceat((flags != 0).astype(np.int64), batch.offsets[:-1])
        flagged_per_block[counts == 0] = 0
        outcome.exceptions = exception_records(batch, flags, flagged_per_block, facts.meter_id, sources)
        for record in outcome.exceptions:
            for rule in record.rules:
                self.metrics.vee_exceptions.labels(rule, record.severity).inc()
        # the batch's own meters, by id (the directory holds every meter seen: never walk it per batch)
        batch_meters = {known[number].meter_id: (number, known[number]) for number in set(batch.meter_ids)
                        if number in known}
        self.metrics.stage_seconds.labels("validate").observe(time.perf_counter() - started)
        return Checked(known, facts, flags == 0, version_given, counts, flagged_per_block, batch_meters)

    def _store(self, batch: BlockBatch, checked: "Checked", outcome: BatchOutcome):
        """Merge the valid reads into day rows and roll them up, with the exceptions, in one transaction."""
        started = time.perf_counter()
        valid, facts = checked.valid, checked.facts
        block_of = np.repeat(np.arange(len(batch)), checked.counts)[valid]
        rows = group_days(facts.meter_id[block_of], batch.channel[block_of], batch.interval_starts()[valid],
                          batch.interval_s[block_of], facts.zone_index[block_of], facts.zones,
                          batch.values[valid], batch.quality[valid].astype(np.int16),
                          batch.version[block_of], checked.version_given[block_of])
        self.partitions.ensure(self.conn, {rows.local_day(r) for r in range(len(rows))})
        outcome.stored = self._store_with_retry(rows, outcome.exceptions, {meter_id: number for meter_id, (number, _) in checked.batch_meters.items()})
        self.metrics.stage_seconds.labels("store").observe(time.perf_counter() - started)
        self.metrics.last_batch.set(self.clock())
        self.metrics.reads_superseded.inc(outcome.stored.reads_superseded)
        for table, count in (("interval_blocks", outcome.stored.rows_inserted + outcome.stored.rows_updated),
                             ("vee_exceptions", outcome.stored.exceptions_recorded)):
            self.metrics.rows_written.labels(table).inc(count)
        return rows

    def _check_stored_days(self, rows, batch_meters: dict, outcome: BatchOutcome) -> None:
        """The day rules on the complete days just stored; what they find is recorded and added to the
        outcome's exceptions."""
        records, rules = check_stored_days(self.conn, self.thresholds.get(), rows, outcome.stored.merged,
                                           batch_meters)
        if not records:
            return
        record_day_exceptions(self.conn, records, rules)
        for record in records:
            self.metrics.vee_exceptions.labels(record.rules[0], record.severity).inc()
        outcome.exceptions.extend(records)

    def _versions(self, batch: BlockBatch, sources: list[RawMessage]) -> np.ndarray:
        """Per block, its version: the one it carries, else its Kafka append time in epoch ms (a replay
        from the dead-letter topic keeps the original's)."""
        version = batch.version.copy()
        missing = np.flatnonzero(version == NO_VERSION)
        if len(missing):
            now = int(self.clock() * 1000)
            version[missing] = [int(sources[b].timestamp * 1000) if sources[b].timestamp else now for b in missing]
        return version

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

    def _store_with_retry(self, rows, exceptions, meter_numbers: dict[int, str]) -> StoreResult:
        """Retry the batch transaction while the database fails in a way that passes (read-only, disk full,
        timeouts, lost connection: :mod:`storage.db_errors`): acknowledging a batch that was not stored
        would lose it. Back-off grows to 5 s; every retry is counted. Any other error is raised."""
        delay = 0.1
        while True:
            try:
                return store_batch(self.conn, rows, exceptions, meter_numbers=meter_numbers)
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
