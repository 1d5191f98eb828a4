"""Tariff administration and rate-change impact on the real PostgreSQL."""
import json
from pathlib import Path

import psycopg
import pytest

from meter2cash.cli import main
from simulators.headend import generate
from simulators.utility import make_utility
from storage.bulk_load import load_directory
from streams.pipeline import BatchProcessor, RawMessage

pytestmark = pytest.mark.integration
ELECTRIC = Path(__file__).resolve().parents[2] / "rating" / "tariffs" / "electric_residential.toml"


@pytest.fixture
def cli_env(settings, monkeypatch):
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    return settings


def test_publish_list_show_diff_keep_history(cli_env, tmp_path, capsys):
    proposed = tmp_path / "e-res-2027.toml"
    proposed.write_text(ELECTRIC.read_text() + '''
[[versions]]
effective_from = "2027-01-01"

  [[versions.charges]]
  kind = "fixed"
  code = "customer_charge"
  description = "Customer charge"
  amount = "14.00"

  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  description = "Energy"
  tiers = [{ up_to = "500", price = "0.1180" }, { price = "0.1650" }]
''')
    assert main(["tariff", "publish", str(proposed), "--by", "rates-team"]) == 0
    assert main(["tariff", "publish", str(proposed)]) == 0  # the same text again: the same revision
    out = capsys.readouterr().out
    revisions = [line.rsplit(" ", 1)[-1] for line in out.splitlines() if "published E-RES" in line]
    assert len(revisions) == 2 and revisions[0] == revisions[1]
    with psycopg.connect(cli_env.database_url) as conn:
        history = conn.execute("select id, published_by from tariff_revisions where code = 'E-RES' order by id").fetchall()
    assert len(history) == 2 and history[1][1] == "rates-team"  # the first revision is kept

    assert main(["tariff", "list"]) == 0
    listing = capsys.readouterr().out
    assert "E-RES" in listing and "G-RES" in listing
    assert main(["tariff", "diff", f"E-RES@{history[0][0]}", "E-RES"]) == 0
    diff = capsys.readouterr().out
    assert '+effective_from = "2027-01-01"' in diff and '+  amount = "14.00"' in diff
    assert main(["tariff", "show", "E-RES"]) == 0
    assert '"2027-01-01"' in capsys.readouterr().out


def test_rate_impact_reprices_stored_usage(cli_env, tmp_path, capsys):
    utility = make_utility(meters=30, seed=8, zone=cli_env.utility_zone)
    with psycopg.connect(cli_env.database_url, autocommit=True) as conn:
        load_directory(conn, utility)
        processor = BatchProcessor(cli_env, conn, cache=None)
        messages = [RawMessage(m.value) for m in generate(utility, block_hours=24)]
        for start in range(0, len(messages), 1000):
            processor.process(messages[start:start + 1000])
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(ELECTRIC.read_text().replace('amount = "12.50"', 'amount = "15.50"'))
    assert main(["rate", "impact", "--current", "E-RES", "--proposed", str(proposed), "--period-start",
                 "2026-10-20", "--period-end", "2026-11-19", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    electric = sum(1 for m in utility.meters if m.tariff_code == "E-RES")
    assert report["customers"] == electric
    # only the customer charge moved: every bill is 3.00 higher
    assert report["revenue_difference_minor"] == 300 * electric
    assert report["percentiles"]["difference_minor"]["50"] == 300.0
    assert all(c["difference_minor"] == 300 for c in report["largest"])
