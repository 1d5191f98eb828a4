"""Entry point of a streams worker process: metrics endpoint, topics, the Faust worker."""
from __future__ import annotations

import logging

import faust
from prometheus_client import start_http_server

from config.settings import Settings
from streams import agents
from streams.app import create_app
from streams.lag import LagReporter
from streams.metrics import StreamMetrics
from streams.topics import ensure_topics


def run_worker(settings: Settings, metrics_port: int | None = None, loglevel: str = "warning",
               collectors: list | None = None) -> None:
    """``collectors``: more Prometheus collectors served on the worker's /metrics."""
    logging.basicConfig(level=getattr(logging, loglevel.upper(), logging.WARNING))
    ensure_topics(settings)
    metrics = StreamMetrics()
    for collector in collectors or []:
        metrics.registry.register(collector)
    if metrics_port:
        start_http_server(metrics_port, addr=settings.metrics_address, registry=metrics.registry)
    LagReporter(settings, metrics).start()
    app = create_app(settings)
    agents.register(app, settings, metrics)
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
