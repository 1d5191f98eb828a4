"""`m2c rate quote` prices a usage file with no service running."""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from meter2cash.cli import main

TARIFF = Path(__file__).resolve().parents[2] / "rating" / "tariffs" / "electric_residential.toml"


def write_usage(path: Path, hours: int, kwh: str, export: str | None = None) -> None:
    start = datetime(2026, 10, 20, 5, tzinfo=timezone.utc)  # local midnight in Chicago
    rows = ["start,value,channel"]
    for hour in range(hours):
        moment = (start + timedelta(hours=hour)).isoformat()
        rows.append(f"{moment},{kwh},import")
        if export:
            rows.append(f"{moment},{export},export")
    path.write_text("\n".join(rows) + "\n")


def test_quote_json(tmp_path, capsys):
    usage = tmp_path / "usage.csv"
    write_usage(usage, 30 * 24 + 1, "1.25")  # Oct 20 - Nov 19 holds the fall-back hour
    code = main(["rate", "quote", "--tariff", str(TARIFF), "--usage", str(usage), "--start", "2026-10-20",
                 "--end", "2026-11-19", "--zone", "America/Chicago", "--json"])
    assert code == 0
    quote = json.loads(capsys.readouterr().out)
    quantity = 721 * 1.25  # 901.25 kWh
    assert [l["code"] for l in quote["lines"]] == ["customer_charge", "energy.tier1", "energy.tier2"]
    assert quote["lines"][2]["quantity"] == "401.25"
    # 12.50 + 500 x 0.1124 + 401.25 x 0.1398 = 12.50 + 56.20 + 56.09
    assert quote["total"] == "124.79" and quote["total_minor"] == 12479 and quantity == 901.25


def test_quote_reports_bad_rows_with_line_numbers(tmp_path, capsys):
    usage = tmp_path / "usage.csv"
    usage.write_text("start,value\n2026-10-20T05:00:00Z,1\nnot-a-time,2\n2026-10-20T07:00:00Z,abc\n")
    code = main(["rate", "quote", "--tariff", str(TARIFF), "--usage", str(usage), "--start", "2026-10-20",
                 "--end", "2026-11-19"])
    assert code == 2
    err = capsys.readouterr().err
    assert "line 3: start 'not-a-time'" in err and "line 4: value 'abc'" in err


def test_tariff_validate_lists_every_problem(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('code = "X"\nservice = "steam"\ncurrency = "USD"\nbilling_unit = "kWh"\n')
    assert main(["tariff", "validate", str(bad), str(TARIFF)]) == 1
    captured = capsys.readouterr()
    assert "service: unknown_service" in captured.err and "versions: missing" in captured.err
    assert "electric_residential.toml: ok" in captured.out
