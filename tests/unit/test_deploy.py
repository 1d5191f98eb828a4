"""The operators' files: alert rules and Prometheus config pass promtool; every dashboard panel and
alert names metrics the code exports."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from prometheus_client import CollectorRegistry

from billing.metrics import BillRunMetrics
from billing.receivables_metrics import OrdersCollector, ReceivablesCollector
from portal.metrics import PortalMetrics
from streams.metrics import StreamMetrics
from streams.push import PushMetrics

ROOT = Path(__file__).resolve().parents[2]
METRIC = re.compile(r"\bm2c_[a-z0-9_]+")


class CannedConnection:
    """Stands in for PostgreSQL: the receivables collector's one query, answered with fixed figures."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, query):
        return self

    def fetchone(self):
        return ({"lockbox": 3}, 1200, 0, 1, {"print/sent": 2}, 0, {"reminder": 1}, 500, 0)


class CannedOrders(CannedConnection):
    """The service order collector's one query, answered with fixed figures."""

    def execute(self, query, params=None):
        return self

    def fetchall(self):
        return [("disconnect", "awaiting_approval", 2, 7200.0, 0), ("reconnect", "open", 1, 60.0, 1),
                ("connect", "completed", 4, 86400.0, 0)]


def test_service_order_figures_by_kind_and_status():
    registry = CollectorRegistry()
    registry.register(OrdersCollector(CannedOrders))
    assert registry.get_sample_value("m2c_service_orders", {"kind": "connect", "status": "completed"}) == 4
    assert registry.get_sample_value("m2c_disconnects_awaiting_approval") == 2
    assert registry.get_sample_value("m2c_service_orders_past_due", {"kind": "reconnect"}) == 1
    assert registry.get_sample_value("m2c_service_orders_oldest_age_seconds",
                                     {"kind": "disconnect", "status": "awaiting_approval"}) == 7200
    # a completed order is not in progress: no age
    assert registry.get_sample_value("m2c_service_orders_oldest_age_seconds",
                                     {"kind": "connect", "status": "completed"}) is None


def exported() -> set[str]:
    names = set()
    receivables = CollectorRegistry()
    receivables.register(ReceivablesCollector(CannedConnection))
    receivables.register(OrdersCollector(CannedOrders))
    for registry in (StreamMetrics().registry, BillRunMetrics().registry, receivables, PortalMetrics().registry,
                     PushMetrics().registry):
        for family in registry.collect():
            names.add(family.name)
            for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
                names.add(family.name + suffix)
    return names


def test_promtool_accepts_the_config_and_rules():
    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package (scripts/services.sh install)"
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        result = subprocess.run([promtool, *args], cwd=ROOT / "deploy" / "prometheus", capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_panel_queries_an_exported_metric():
    known = exported()
    dashboards = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert {d.stem for d in dashboards} == {"ingestion", "vee", "billing", "receivables", "portal"}
    for path in dashboards:
        document = json.loads(path.read_text())
        assert document["panels"], path
        for panel in document["panels"]:
            for target in panel["targets"]:
                names = set(METRIC.findall(target["expr"]))
                assert names and names <= known, f"{path.name}: {panel['title']}: {names - known}"


def test_every_alert_names_an_exported_metric():
    known = exported()
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert {a["alert"] for a in alerts} >= {"IngestionStalled", "ConsumerLagHigh", "VeeExceptionRateSpike",
                                           "DeadLetterQueueGrowing", "BillRunFailed", "BillRunLate"}
    for alert in alerts:
        names = set(METRIC.findall(alert["expr"]))
        assert names and names <= known, f"{alert['alert']}: {names - known}"


def test_dashboards_are_what_the_generator_writes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_dashboards", ROOT / "deploy" / "grafana" / "make_dashboards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for uid, (title, panels) in module.DASHBOARDS.items():
        on_disk = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / f"{uid}.json").read_text())
        assert on_disk == module.dashboard(uid, title, panels)


def test_the_broker_takes_the_same_message_size_as_every_topic_and_client():
    """One setting (M2C_MESSAGE_MAX_BYTES): the broker script adds the same overhead as Settings."""
    from config.settings import KAFKA_RECORD_OVERHEAD, Settings

    script = (ROOT / "scripts" / "services.sh").read_text()
    found = re.search(r"KAFKA_RECORD_LIMIT=\$\(\( \$\{M2C_MESSAGE_MAX_BYTES:-(\d+)\} \+ (\d+) \)\)", script)
    assert found, "services.sh sets the broker's limit from M2C_MESSAGE_MAX_BYTES"
    assert int(found.group(1)) == Settings().message_max_bytes and int(found.group(2)) == KAFKA_RECORD_OVERHEAD
    assert "message.max.bytes=$KAFKA_RECORD_LIMIT" in script
    settings = Settings.from_env({"M2C_MESSAGE_MAX_BYTES": "2000000"})
    assert settings.kafka_record_limit == 2_000_000 + KAFKA_RECORD_OVERHEAD
    assert Settings.from_env(settings.to_env()) == settings
