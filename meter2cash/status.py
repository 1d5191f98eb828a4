"""``m2c status``: the operators' health summary in a terminal, for those without Grafana."""
from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _worker_metrics(port: int) -> dict[str, float] | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3).read().decode()
    except OSError:
        return None
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def _sum(metrics: dict[str, float], name: str) -> float:
    return sum(v for k, v in metrics.items() if k == name or k.startswith(name + "{"))


def report(settings: Settings, worker_port: int, sample_seconds: float = 2.0) -> list[str]:
    lines = []
    services = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "status"], capture_output=True,
                              text=True, timeout=60)
    lines += ["services:"] + [f"  {line}" for line in services.stdout.splitlines()]

    first = _worker_metrics(worker_port)
    if first is None:
        lines.append(f"streams worker: no /metrics on 127.0.0.1:{worker_port}")
    else:
        time.sleep(sample_seconds)
        second = _worker_metrics(worker_port) or first
        rate = (_sum(second, "m2c_reads_received_total") - _sum(first, "m2c_reads_received_total")) / sample_seconds
        flagged = (_sum(second, "m2c_reads_flagged_total") - _sum(first, "m2c_reads_flagged_total")) / sample_seconds
        last = second.get("m2c_last_batch_timestamp_seconds", 0)
        lag = {k: v for k, v in second.items() if k.startswith("m2c_consumer_lag_messages")}
        lines.append(f"streams worker: {rate:,.0f} reads/s, {flagged:,.0f} flagged/s, last batch "
                     f"{time.time() - last:,.0f} s ago, consumer lag {sum(lag.values()):,.0f} messages, "
                     f"dead letters {_sum(second, 'm2c_dlq_messages_total'):,.0f}")

    try:
        import psycopg

        from storage.operations import database_health

        with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
            health = database_health(conn)
        exceptions, run, recent = health.open_exceptions, health.latest_bill_run, health.reads_last_5_minutes
    except Exception as error:  # the database may be down: say so
        lines.append(f"database: {error}")
        return lines
    lines.append(f"reads in day rows written in the last 5 minutes: {recent:,}")
    lines.append("open VEE exceptions: " + (", ".join(f"{rule} {count}" for rule, count in exceptions) or "none"))
    if run is None:
        lines.append("last bill run: none")
    else:
        lines.append(f"last bill run: #{run[0]} cycle {run[1]} period {run[2]} {run[3]}, started {run[4]:%Y-%m-%d %H:%M}"
                     f"{'' if run[5] is None else f', finished {run[5]:%H:%M}'}, {run[6]} billed, {run[7]} held")
    return lines
