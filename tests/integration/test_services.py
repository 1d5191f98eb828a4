"""The project's own service scripts and deployment files."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_services_status_reports_all_three_up(base_settings):
    result = subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), "status"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("postgres: up", "redis: up", "kafka: up"):
        assert name in result.stdout


def test_kafka_readiness_probe_tells_a_broker_from_a_closed_port(base_settings):
    probe = ROOT / "scripts" / "kafka_ready.py"
    assert subprocess.run(["python3", str(probe), base_settings.kafka_bootstrap], timeout=30).returncode == 0
    assert subprocess.run(["python3", str(probe), "127.0.0.1:1"], timeout=30).returncode == 1


def test_docker_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by scripts/services.sh install"
    result = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    services = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                              capture_output=True, text=True, timeout=60, cwd=ROOT).stdout.split()
    assert set(services) >= {"kafka", "timescaledb", "redis", "prometheus", "grafana", "worker", "simulator"}


def test_status_summarizes_services_database_and_bill_runs(settings, monkeypatch, capsys):
    from meter2cash.cli import main

    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    assert main(["status", "--worker-metrics-port", "1"]) == 0
    out = capsys.readouterr().out
    assert "kafka: up" in out and "postgres: up" in out
    assert "streams worker: no /metrics" in out
    assert "open VEE exceptions: none" in out and "last bill run: none" in out
