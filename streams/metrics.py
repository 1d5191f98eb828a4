"""Every metric of the streams worker, declared in one place against an injected registry."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# batches take milliseconds to a few seconds: buckets chosen for that range
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


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
        self.vee_exceptions = Counter("m2c_vee_exceptions_total", "VEE exception records by rule", ["rule"],
                                      registry=r)
        self.dlq_messages = Counter("m2c_dlq_messages_total", "Undecodable messages sent to the DLQ", ["reason"],
                                    registry=r)
        self.db_retries = Counter("m2c_db_retries_total", "Batch transactions retried after a database error",
                                  registry=r)
        self.estimate_failures = Counter("m2c_estimate_failures_total", "Estimate refreshes that failed",
                                         registry=r)
        self.accounts_estimated = Counter("m2c_accounts_estimated_total", "Account estimates written to Redis",
                                          registry=r)
        self.batch_size = Histogram("m2c_batch_messages", "Messages per batch",
                                    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000), registry=r)
        self.stage_seconds = Histogram("m2c_batch_stage_seconds", "Seconds per batch stage", ["stage"],
                                       buckets=_BATCH_BUCKETS, registry=r)
