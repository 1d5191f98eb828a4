"""Every metric of a bill run, declared in one place against an injected registry."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BillRunMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.accounts = Counter("m2c_bill_run_accounts_total", "Accounts a bill run finished, by outcome",
                                ["outcome"], registry=r)  # billed, held, already_billed
        self.billed_minor = Counter("m2c_billed_minor_units_total", "Amount billed, in the currency's minor units",
                                    registry=r)
        self.failures = Counter("m2c_bill_run_failures_total", "Bill runs that stopped with an error", registry=r)
        self.reads_estimated = Counter("m2c_reads_estimated_total",
                                       "Missing reads estimated by VEE before the run, by service and method",
                                       ["service", "method"], registry=r)
        self.progress = Gauge("m2c_bill_run_progress_ratio", "Share of the running bill run's accounts done",
                              registry=r)
        self.bills_per_second = Gauge("m2c_bill_run_bills_per_second", "Bills written per second by the last run",
                                      registry=r)
        self.last_success = Gauge("m2c_bill_run_last_success_timestamp_seconds",
                                  "When a bill run last finished without error", registry=r)
        self.chunk_seconds = Histogram("m2c_bill_run_chunk_seconds", "Seconds to price and write a chunk of accounts",
                                       buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0), registry=r)
