"""A small town on the real services for the records-over-time tests: one cycle (September 2026), a
flat electric tariff, the environment set for the command line; and the helpers that run a command
as a user would (``run`` for its JSON, ``refused`` for its one-line refusal)."""
import json
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest

from meter2cash.cli import main
from meterdata.codec import Block, encode_binary
from simulators.utility import Utility
from storage.bulk_load import load_directory
from storage.tariffs import publish
from streams.pipeline import RawMessage

ZONE = "America/Chicago"
CYCLE = "C-LIFE"
FLAT = '''currency = "USD"
code = "E-FLAT"
service = "electric"
billing_unit = "kWh"
[[versions]]
effective_from = "2026-01-01"
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "10.00"
  [[versions.charges]]
  kind = "tiered"
  code = "energy"
  tiers = [{ price = "0.10" }]
'''


def block(meter_no: str, day: date, values, first_hour: int = 0) -> RawMessage:
    start = int(datetime.combine(day, time(first_hour), ZoneInfo(ZONE)).timestamp())
    values = np.asarray(values, dtype=np.int64)
    return RawMessage(encode_binary(Block(meter_no, 1, start, 3600, values, np.zeros(len(values), np.uint8))))


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), ZoneInfo(ZONE)).astimezone(timezone.utc)


def customer(capsys, name: str, address: str, meter: str) -> tuple[str, int]:
    """A customer on electric service at a new premise from 1 September: (account number, premise id)."""
    premise = run(capsys, "premises", "add", "--address", address, "--zone", ZONE)["premise_id"]
    account = run(capsys, "accounts", "open", "--name", name, "--cycle", CYCLE)["account_no"]
    run(capsys, "meters", "install", meter, "--premise", str(premise), "--service", "electric", "--unit", "Wh",
        "--interval-s", "3600", "--at", "2026-09-01T00:00:00-05:00", "--why", "new build")
    run(capsys, "service", "start", "--account", account, "--premise", str(premise), "--service", "electric",
        "--tariff", "E-FLAT", "--on", "2026-09-01", "--waive-deposit", "test customer", "--why", "moving in")
    return account, premise


def notices(conn, account_no: str) -> list[str]:
    """The kinds of the account's notices, oldest first."""
    return [r[0] for r in conn.execute("select n.kind from notices n join accounts a on a.id = n.account_id "
                                       "where a.account_no = %s order by n.id", (account_no,))]


def days(first: date, end: date):
    return [first + timedelta(days=n) for n in range((end - first).days)]


@pytest.fixture
def town(settings, monkeypatch):
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    conn = psycopg.connect(settings.database_url, autocommit=True)
    publish(conn, FLAT)
    load_directory(conn, Utility(ZONE, CYCLE, date(2026, 9, 1), date(2026, 10, 1)))
    yield conn, settings
    conn.close()


def run(capsys, *argv) -> dict:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def refused(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    return capsys.readouterr().err
