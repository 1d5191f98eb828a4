"""Every metric of the streams worker, declared in one place against an injected registry."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# batches take milliseconds to a few seconds: buckets chosen for that range
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# from Kafka append to the estimate written: sub-second when healthy, minutes when lagging
_APPEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
# from the end of a read's interval to its estimate: head-ends deliver minutes to days late
_READ_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0, 35 * 86400.0)


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_received = Counter("m2c_messages_received_total", "Raw messages consumed", registry=r)
        self.reads_received = Counter("m2c_reads_received_total", "Interval reads decoded", ["service"], registry=r)
        self.reads_stored = Counter("m2c_reads_stored_total", "Valid interval reads merged into storage",
                                    ["service"], registry=r)
        self.reads_flagged = Counter("m2c_reads_flagged_total", "Interval reads held back by VEE",
                                     ["service"], registry=r)
        self.vee_exceptions = Counter("m2c_vee_exceptions_total", "VEE exception records by rule and severity",
                                      ["rule", "severity"], registry=r)
        self.reads_superseded = Counter(
            "m2c_reads_superseded_total",
            "Reads not stored because the stored read of the interval is newer or stronger (a stale resend)",
            registry=r)
        self.dlq_messages = Counter("m2c_dlq_messages_total", "Undecodable messages sent to the DLQ", ["reason"],
                                    registry=r)
        self.db_retries = Counter("m2c_db_retries_total",
                                  "Batches (or their estimates) retried after a database error, by SQLSTATE",
                                  ["sqlstate"], registry=r)
        self.estimate_rebuilds = Counter("m2c_estimate_rebuilds_total",
                                         "Full rebuilds of the estimates cache after Redis lost data or refreshes failed",
                                         registry=r)
        self.estimate_failures = Counter("m2c_estimate_failures_total", "Estimate refreshes that failed",
                                         registry=r)
        self.accounts_estimated = Counter("m2c_accounts_estimated_total", "Account estimates written to Redis",
                                          registry=r)
        self.batch_size = Histogram("m2c_batch_messages", "Messages per batch",
                                    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=r)
        self.stage_seconds = Histogram("m2c_batch_stage_seconds", "Seconds per batch stage", ["stage"],
                                       buckets=_BATCH_BUCKETS, registry=r)
        self.rows_written = Counter("m2c_db_rows_written_total", "Rows written by the store stage", ["table"],
                                    registry=r)
        self.append_to_estimate = Histogram(
            "m2c_append_to_estimate_seconds", "From the oldest Kafka append of a batch to its estimates written",
            buckets=_APPEND_BUCKETS, registry=r)
        self.read_to_estimate = Histogram(
            "m2c_read_to_estimate_seconds", "From the end of a batch's newest interval to its estimates written",
            buckets=_READ_BUCKETS, registry=r)
        self.last_batch = Gauge("m2c_last_batch_timestamp_seconds", "When the last batch was stored", registry=r)
        self.consumer_lag = Gauge("m2c_consumer_lag_messages", "Raw messages not yet committed by the group",
                                  ["partition"], registry=r)

    def observe_estimated(self, first_append: float | None, newest_read_end: int | None, now: float) -> None:
        """A batch's estimates were written at ``now``: record how far behind the reads they are."""
        if first_append is not None:
            self.append_to_estimate.observe(max(0.0, now - first_append))
        if newest_read_end is not None:
            self.read_to_estimate.observe(max(0.0, now - newest_read_end))


def reads_estimated_counter(registry: CollectorRegistry | None = None) -> Counter:
    """Reads estimated by VEE (cycle close, staff re-estimation), by service and method; counted where
    the estimation runs: the worker's cycle scheduler, a bill run."""
    return Counter("m2c_reads_estimated_total", "Missing reads estimated by VEE, by service and method",
                   ["service", "method"], registry=registry)
