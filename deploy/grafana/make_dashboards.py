"""Writes the Grafana dashboards (deploy/grafana/dashboards/*.json) from one list of panels.

    python deploy/grafana/make_dashboards.py
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent / "dashboards"
SOURCE = {"type": "prometheus", "uid": "prometheus"}

DASHBOARDS = {
    "ingestion": ("meter2cash - ingestion", [
        ("Reads received per second by service", "sum by (service) (rate(m2c_reads_received_total[1m]))", "ops"),
        ("Reads stored per second by service", "sum by (service) (rate(m2c_reads_stored_total[1m]))", "ops"),
        ("Consumer lag by partition (messages)", "max by (partition) (m2c_consumer_lag_messages)", "short"),
        ("Seconds since the last stored batch", "time() - max(m2c_last_batch_timestamp_seconds)", "s"),
        ("Kafka append to estimate, p99",
         "histogram_quantile(0.99, sum by (le) (rate(m2c_append_to_estimate_seconds_bucket[5m])))", "s"),
        ("Read to estimate, p99",
         "histogram_quantile(0.99, sum by (le) (rate(m2c_read_to_estimate_seconds_bucket[15m])))", "s"),
        ("Batch stage p99 by stage",
         "histogram_quantile(0.99, sum by (le, stage) (rate(m2c_batch_stage_seconds_bucket[5m])))", "s"),
        ("Messages per batch, p50", "histogram_quantile(0.5, sum by (le) (rate(m2c_batch_messages_bucket[5m])))",
         "short"),
        ("Rows written per second by table", "sum by (table) (rate(m2c_db_rows_written_total[1m]))", "ops"),
        ("Database retries by SQLSTATE", "sum by (sqlstate) (rate(m2c_db_retries_total[5m]))", "ops"),
        ("Stale reads not taken (older version or weaker than stored)", "sum(rate(m2c_reads_superseded_total[5m]))",
         "ops"),
        ("Account estimates written per second", "sum(rate(m2c_accounts_estimated_total[1m]))", "ops"),
        ("Estimate failures", "sum(rate(m2c_estimate_failures_total[5m]))", "ops"),
        ("Estimate cache rebuilds (Redis lost data)", "sum(increase(m2c_estimate_rebuilds_total[1h]))", "short"),
    ]),
    "vee": ("meter2cash - validation", [
        ("Share of reads flagged",
         "sum(rate(m2c_reads_flagged_total[15m])) / clamp_min(sum(rate(m2c_reads_received_total[15m])), 1)",
         "percentunit"),
        ("Exceptions by rule", "sum by (rule) (rate(m2c_vee_exceptions_total[5m]))", "ops"),
        ("Exceptions by severity", "sum by (severity) (rate(m2c_vee_exceptions_total[5m]))", "ops"),
        ("Dead-lettered messages by reason", "sum by (reason) (increase(m2c_dlq_messages_total[15m]))", "short"),
        ("Reads estimated per hour by service and method",
         "sum by (service, method) (increase(m2c_reads_estimated_total[1h]))", "short"),
    ]),
    "billing": ("meter2cash - billing", [
        ("Bill run progress", "max(m2c_bill_run_progress_ratio)", "percentunit"),
        ("Bills per second (last run)", "max(m2c_bill_run_bills_per_second)", "short"),
        ("Accounts by outcome", "sum by (outcome) (increase(m2c_bill_run_accounts_total[1h]))", "short"),
        ("Hours since the last good bill run", "(time() - max(m2c_bill_run_last_success_timestamp_seconds)) / 3600",
         "h"),
        ("Amount billed per hour (minor units)", "sum(increase(m2c_billed_minor_units_total[1h]))", "short"),
        ("Bill run failures", "sum(increase(m2c_bill_run_failures_total[1h]))", "short"),
        ("Chunk seconds p99", "histogram_quantile(0.99, sum by (le) (rate(m2c_bill_run_chunk_seconds_bucket[5m])))",
         "s"),
    ]),
    "receivables": ("meter2cash - receivables", [
        ("Payments per hour by channel", "sum by (channel) (increase(m2c_payments_total[1h]))", "short"),
        ("Payments received per hour (minor units)", "sum(increase(m2c_payments_received_minor_units_total[1h]))",
         "short"),
        ("Payment exceptions waiting", "max(m2c_payment_exceptions_open)", "short"),
        ("Returned payments per day", "sum(increase(m2c_payments_returned_total[1d]))", "short"),
        ("Bills not delivered yet", "max(m2c_bills_undelivered)", "short"),
        ("Deliveries per hour by channel and status",
         "sum by (channel, status) (increase(m2c_deliveries_total[1h]))", "short"),
        ("Collection steps per day by step", "sum by (step) (increase(m2c_collection_steps_total[1d]))", "short"),
        ("Receivable balance (minor units)", "max(m2c_receivable_balance_minor_units)", "short"),
        ("Active payment arrangements", "max(m2c_payment_arrangements_active)", "short"),
    ]),
    "portal": ("meter2cash - portal and push", [
        ("Portal requests per second by status", "sum by (status) (rate(m2c_portal_requests_total[5m]))", "reqps"),
        ("Portal p99 latency by route",
         "histogram_quantile(0.99, sum by (le, route) (rate(m2c_portal_request_seconds_bucket[5m])))", "s"),
        ("Portal server errors per second", 'sum(rate(m2c_portal_requests_total{status=~"5.."}[5m]))', "reqps"),
        ("Estimates served by source (cache hit rate)", "sum by (source) (rate(m2c_portal_estimates_total[5m]))",
         "reqps"),
        ("Head-end push requests by answer", "sum by (status) (rate(m2c_push_requests_total[5m]))", "reqps"),
        ("Pushed blocks per second by head-end", "sum by (head_end) (rate(m2c_push_blocks_total[5m]))", "short"),
    ]),
}


def dashboard(uid: str, title: str, panels: list[tuple[str, str, str]]) -> dict:
    return {
        "uid": f"m2c-{uid}", "title": title, "schemaVersion": 39, "version": 1, "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"}, "tags": ["meter2cash"],
        "panels": [{"id": number, "type": "timeseries", "title": panel_title, "datasource": SOURCE,
                    "gridPos": {"h": 8, "w": 12, "x": 12 * ((number - 1) % 2), "y": 8 * ((number - 1) // 2)},
                    "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                    "targets": [{"refId": "A", "datasource": SOURCE, "expr": expr}]}
                   for number, (panel_title, expr, unit) in enumerate(panels, start=1)],
    }


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for uid, (title, panels) in DASHBOARDS.items():
        (HERE / f"{uid}.json").write_text(json.dumps(dashboard(uid, title, panels), indent=2) + "\n")


if __name__ == "__main__":
    main()
