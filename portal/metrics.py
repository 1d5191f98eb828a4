"""The portal's metrics, declared in one place against an injected registry."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PortalMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        self.requests = Counter("m2c_portal_requests_total", "Portal requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("m2c_portal_request_seconds", "Portal request latency", ["route"],
                                 registry=self.registry, buckets=_BUCKETS)
        self.sign_ins = Counter("m2c_portal_sign_ins_total",
                                "Sign-in attempts by outcome (ok, refused, throttled: refused unchecked)",
                                ["outcome"], registry=self.registry)
        self.sign_in_locks = Counter("m2c_portal_sign_in_locks_total",
                                     "User names locked after repeated failed sign-ins", registry=self.registry)
        self.estimates = Counter("m2c_portal_estimates_total", "Running estimates served, by source (cache, database)",
                                 ["source"], registry=self.registry)
