"""``m2c migrate validate|load DIR``: check a legacy extract, then load it as one restartable job.

The job is recorded in ``migration_runs`` (one per extract, by the digest of its files). Each step
commits on its own and is recorded; a step cut short is redone and changes nothing twice: records and
opening balances are keyed by their legacy ids in ``migration_keys``, legacy bills by number, and the
read history goes through the stream's own validation and idempotent merge in chunks whose progress
is recorded. Running the job again after it finished does nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

import psycopg

from billing.cycles import period_containing
from billing.ledger import OPENING_BALANCE, RECEIVABLE
from billing.postings import lock_account, post, to_minor_exact
from migration.extract import Extract, money, read_extract, read_history, validate
from migration.errors import ExtractInvalid
from storage import migration_runs as runs
from storage.customers import insert_premise
from storage.bulk_load import ensure_period
from meterdata.codec import encode_binary

STEPS = ("records", "opening_balances", "legacy_bills", "periods", "reads")
READ_CHUNK = 2000  # blocks per stored batch


@dataclass
class LoadResult:
    run_id: int
    status: str  # loaded, already_loaded
    counts: dict = field(default_factory=dict)


def extract_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.csv")):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def check(conn: psycopg.Connection, folder: str | Path):
    """(extract, read-history blocks, every problem)."""
    extract = read_extract(folder)
    known = runs.cycles(conn)
    problems = validate(extract, runs.tariff_codes(conn), set(known))
    blocks = []
    if not any(p.file == "reads.csv" and p.code == "missing_file" for p in problems):
        zones = {code: zone for code, (_, zone, _) in known.items()}
        blocks, read_problems = read_history(extract, zones)
        problems += read_problems
    return extract, blocks, problems


def load(conn: psycopg.Connection, settings, folder: str | Path, progress=None, stop_after: str | None = None,
         read_chunk: int = READ_CHUNK) -> LoadResult:
    """Validate, then load (or continue loading) the extract. ``stop_after`` ends the job after that
    step, as a failure would (for tests of the restart)."""
    folder = Path(folder).resolve()
    digest = extract_digest(folder)
    row = runs.find_run(conn, digest)
    if row is not None and row[1] == "finished":
        return LoadResult(row[0], "already_loaded", row[4])
    extract, blocks, problems = check(conn, folder)
    if problems:
        raise ExtractInvalid(problems)
    if row is None:
        row = runs.start_run(conn, str(folder), digest)
    run_id, _, done, reads_done, counts = row
    runs.set_status(conn, run_id, "running")
    known = runs.cycles(conn)
    steps = {
        "records": lambda: _records(conn, run_id, extract, known),
        "opening_balances": lambda: _opening_balances(conn, run_id, extract, settings.currency),
        "legacy_bills": lambda: _legacy_bills(conn, run_id, extract, settings.currency),
        "periods": lambda: _periods(conn, known),
        "reads": lambda: _reads(conn, settings, run_id, blocks, reads_done, progress, read_chunk),
    }
    try:
        for step in STEPS:
            if step in done:
                continue
            if step == "reads":
                counts[step] = steps[step]()
            else:
                with conn.transaction():
                    counts[step] = steps[step]()
            runs.step_done(conn, run_id, step, counts)
            if step == stop_after:
                runs.set_status(conn, run_id, "failed", f"stopped after {step}")
                return LoadResult(run_id, "stopped", counts)
    except Exception as error:
        runs.set_status(conn, run_id, "failed", f"{type(error).__name__}: {error}"[:1000])
        raise
    runs.set_status(conn, run_id, "finished")
    return LoadResult(run_id, "loaded", counts)


def _records(conn, run_id: int, extract: Extract, known: dict) -> dict:
    customers = {r["customer_id"]: r for r in extract.rows("customers.csv")}
    premises = runs.keys(conn, "premise")
    for row in extract.rows("premises.csv"):
        if row["premise_id"] not in premises:
            premise_id = insert_premise(conn, row["address"], "UTC")
            premises[row["premise_id"]] = premise_id
            runs.remember_key(conn, run_id, "premise", row["premise_id"], premise_id)
    accounts = runs.keys(conn, "account")
    for row in extract.rows("accounts.csv"):
        if row["account_no"] in accounts:
            continue
        customer = customers[row["customer_id"]]
        cycle_id, zone, _ = known[row["billing_cycle"]]
        account_id = runs.insert_account(conn, row["account_no"], customer["name"], cycle_id, zone,
                                         row["delivery_channel"] or "print", customer["email"] or None,
                                         customer["mailing_address"] or None)
        accounts[row["account_no"]] = account_id
        runs.remember_key(conn, run_id, "account", row["account_no"], account_id)
    zones = runs.account_zones(conn, list(accounts))
    rate_codes = {r["rate_code"]: r["tariff_code"] for r in extract.rows("rate_codes.csv")}
    agreements = runs.keys(conn, "agreement")
    for row in extract.rows("service_agreements.csv"):
        if row["agreement_id"] in agreements:
            continue
        attributes = {"legacy_id": row["agreement_id"], "legacy_rate_code": row["rate_code"]}
        agreement_id = runs.insert_agreement(conn, accounts[row["account_no"]], premises[row["premise_id"]],
                                             row["service"], row["start_date"], row["end_date"] or None, attributes,
                                             rate_codes[row["rate_code"]])
        agreements[row["agreement_id"]] = agreement_id
        runs.remember_key(conn, run_id, "agreement", row["agreement_id"], agreement_id)
    account_of = {r["agreement_id"]: r["account_no"] for r in extract.rows("service_agreements.csv")}
    meters = runs.keys(conn, "meter")
    for row in extract.rows("meters.csv"):
        if row["meter_no"] in meters:
            continue
        meter_id = runs.insert_meter(conn, row["meter_no"], agreements[row["agreement_id"]], row["service"],
                                     row["unit"], int(row["power_of_ten"]), int(row["interval_s"]),
                                     int(row["max_per_hour"]), zones[account_of[row["agreement_id"]]])
        meters[row["meter_no"]] = meter_id
        runs.remember_key(conn, run_id, "meter", row["meter_no"], meter_id)
    runs.zone_loaded_premises(conn)
    return {"accounts": len(accounts), "premises": len(premises), "agreements": len(agreements),
            "meters": len(meters)}


def _opening_balances(conn, run_id: int, extract: Extract, currency: str) -> dict:
    accounts = runs.keys(conn, "account")
    posted = runs.keys(conn, "opening_balance")
    total = 0
    count = 0
    for row in extract.rows("opening_balances.csv"):
        account_no = row["account_no"]
        if account_no in posted:
            continue
        amount = to_minor_exact(money(row["balance"]), currency)
        account_id = accounts[account_no]
        lock_account(conn, account_id)
        as_of = datetime.combine(date.fromisoformat(row["as_of"]), time(0), timezone.utc)
        transaction_id = post(conn, account_id, [(RECEIVABLE, amount, "opening_balance"),
                                                 (OPENING_BALANCE, -amount, "opening_balance")],
                              as_of, memo="opening balance from the legacy system")
        runs.remember_key(conn, run_id, "opening_balance", account_no, transaction_id)
        total += amount
        count += 1
    return {"accounts": count, "total_minor": total}


def _legacy_bills(conn, run_id: int, extract: Extract, currency: str) -> dict:
    accounts = runs.keys(conn, "account")
    charge_map = extract.charge_map()
    lines: dict[str, list] = {}
    for row in extract.rows("bill_lines.csv"):
        lines.setdefault(row["bill_no"], []).append(row)
    count = 0
    for row in extract.rows("bills.csv"):
        count += runs.insert_legacy_bill(
            conn, row["bill_no"], accounts[row["account_no"]], row["period_start"], row["period_end"],
            to_minor_exact(money(row["total"]), currency), to_minor_exact(money(row["balance_after"]), currency),
            run_id, [(n, line["service"], charge_map.get(line["charge_code"], line["charge_code"]), line["charge_code"],
                      line["description"], to_minor_exact(money(line["amount"]), currency))
                     for n, line in enumerate(lines.get(row["bill_no"], []), start=1)])
    return {"bills": count}


def _periods(conn, known: dict) -> dict:
    """The cycles' periods that hold the legacy bills, for the parallel run."""
    rows = runs.legacy_bill_periods(conn)
    start_days = {cycle_id: start_day for cycle_id, _, start_day in known.values()}
    made = set()
    for cycle_id, start in rows:
        first, end = period_containing(start_days[cycle_id], start)
        made.add(ensure_period(conn, cycle_id, first, end))
    return {"periods": len(made)}


def _reads(conn, settings, run_id: int, blocks: list, reads_done: int, progress, read_chunk: int) -> dict:
    """The read history through the stream's validation and idempotent merge, chunk by chunk."""
    from streams.pipeline import BatchProcessor, RawMessage

    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as own:
        processor = BatchProcessor(settings, own, cache=None)
        flagged = 0
        for first in range(reads_done, len(blocks), read_chunk):
            chunk = blocks[first:first + read_chunk]
            outcome = processor.process([RawMessage(encode_binary(b)) for b in chunk], refresh=False)
            flagged += outcome.reads_flagged
            runs.reads_done(conn, run_id, first + len(chunk))
            if progress:
                progress(first + len(chunk), len(blocks))
    reads = sum(len(b.values) for b in blocks)
    exceptions = runs.loaded_meter_exceptions(conn)
    return {"blocks": len(blocks), "reads": reads, "reads_flagged": flagged, "vee_exceptions": exceptions}
