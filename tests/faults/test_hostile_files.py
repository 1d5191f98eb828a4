"""Fuzzed tariff files and payment files: a clear error with where it is, or a clean result; never a
crash, and a refused file leaves nothing behind."""
import random
import time
from datetime import datetime, timezone
from importlib import resources

import psycopg
import pytest

from billing.lockbox import import_lockbox, parse_lockbox
from rating.errors import RatingError, TariffInvalid
from rating.tariff import parse_tariff
from storage.tariffs import publish

pytestmark = [pytest.mark.faults]
MUTATIONS = 2_000
BILLED = datetime(2026, 11, 28, tzinfo=timezone.utc)


def mutate(text: str, rng: random.Random) -> str:
    """Delete, duplicate, swap or replace a few characters or lines."""
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(5)
        if not text:
            break
        at = rng.randrange(len(text))
        if choice == 0:
            text = text[:at] + text[at + rng.randint(1, 8):]
        elif choice == 1:
            text = text[:at] + rng.choice(["=", "[", "]", '"', "\n", "-", "0", "1e999", "NaN", "x", ",", "{"]) + text[at:]
        elif choice == 2:
            lines = text.splitlines()
            line = rng.randrange(len(lines))
            lines.insert(line, lines[line])
            text = "\n".join(lines)
        elif choice == 3:
            lines = text.splitlines()
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        else:
            text = text.replace(rng.choice(["0.", "kWh", "tiered", "fixed", "2026", "price", "amount"]),
                                rng.choice(["", "-1.", "gal", "nope", "20x6", "prices", "amount2"]), 1)
    return text


def test_fuzzed_tariff_files_get_every_error_with_its_path_and_publish_nothing(settings, figures):
    started = time.monotonic()
    rng = random.Random(17)
    documents = [p.read_text() for p in resources.files("rating.tariffs").iterdir() if p.name.endswith(".toml")]
    refused = accepted = 0
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        revisions = conn.execute("select count(*) from tariff_revisions").fetchone()[0]
        for number in range(MUTATIONS):
            text = mutate(rng.choice(documents), rng)
            try:
                parse_tariff(text, f"fuzz-{number}.toml")
            except TariffInvalid as error:
                refused += 1
                assert error.problems and all(p.path is not None and p.code and p.message for p in error.problems)
                with pytest.raises(TariffInvalid):
                    publish(conn, text, f"fuzz-{number}.toml")
                continue
            except RatingError as error:  # pragma: no cover - a crash in disguise
                pytest.fail(f"fuzz-{number}: {type(error).__name__} instead of TariffInvalid: {error}")
            accepted += 1
        assert conn.execute("select count(*) from tariff_revisions").fetchone()[0] == revisions
    figures.add(f"{MUTATIONS:,} fuzzed tariff files", {"tariff_files": MUTATIONS}, 0,
                {"crashes": 0, "refused_without_path": 0}, time.monotonic() - started)
    assert refused > MUTATIONS // 2


def test_fuzzed_lockbox_files_report_lines_and_import_only_good_lines(settings, figures):
    started = time.monotonic()
    rng = random.Random(23)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute("insert into billing_cycles (code, zone) values ('F', 'UTC')")
        conn.execute("insert into accounts (account_no, customer_name, billing_cycle_id, zone) "
                     "select 'F' || n, 'c', (select id from billing_cycles), 'UTC' from generate_series(1, 5) n")
        base = "reference,received_on,account_no,invoice_no,amount,method\n" + "".join(
            f"R{n},2026-11-2{n % 9},F{n % 5 + 1},,{n}.{n % 100:02d},check\n" for n in range(1, 40))
        imported = 0
        for number in range(MUTATIONS // 4):
            text = mutate(base, rng).replace("R", f"M{number}-")
            parsed = parse_lockbox(text, "fuzz.csv")
            assert all(isinstance(line, int) and message for line, message in parsed.errors)
            before = conn.execute("select count(*) from payments").fetchone()[0]
            summary = import_lockbox(conn, text, f"fuzz-{number}.csv", BILLED)
            after = conn.execute("select count(*) from payments").fetchone()[0]
            # a mutation may recreate a reference an earlier file used: taken once, as a duplicate
            assert after - before == summary.applied + summary.unmatched
            assert summary.applied + summary.unmatched + summary.duplicates == len(parsed.payments)
            imported += after - before
        unbalanced = conn.execute("select count(*) from (select transaction_id from ledger_entries group by 1 "
                                  "having sum(amount_minor) <> 0) t").fetchone()[0]
    assert unbalanced == 0 and imported > 0
    figures.add(f"{MUTATIONS // 4:,} fuzzed lockbox files", {"payment_files": MUTATIONS // 4}, 0,
                {"crashes": 0, "unbalanced_transactions": unbalanced}, time.monotonic() - started)

