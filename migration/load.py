"""``m2c migrate validate|load DIR``: check a legacy extract, then load it as one restartable job.

The job is recorded in ``migration_runs`` (one per extract, by the digest of its files). Each step
commits on its own and is recorded; a step cut short is redone and changes nothing twice: records and
opening balances are keyed by their legacy ids in ``migration_keys``, legacy bills by number, and the
read history goes through the stream's own validation and idempotent merge in chunks whose progress
is recorded. Running the job again after it finished does nothing.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path

import psycopg

from billing.cycles import period_containing
from billing.ledger import OPENING_BALANCE, RECEIVABLE
from billing.postings import lock_account, post, to_minor_exact
from migration.extract import Extract, money, read_extract, read_history, validate
from migration.errors import ExtractInvalid
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


def cycles(conn: psycopg.Connection) -> dict[str, tuple[int, str, int]]:
    """code -> (id, zone, period start day)."""
    return {code: (cycle_id, zone, start_day) for cycle_id, code, zone, start_day in
            conn.execute("select id, code, zone, period_start_day from billing_cycles").fetchall()}


def tariff_codes(conn: psycopg.Connection) -> set[str]:
    return {row[0] for row in conn.execute("select distinct code from tariff_revisions").fetchall()}


def check(conn: psycopg.Connection, folder: str | Path):
    """(extract, read-history blocks, every problem)."""
    extract = read_extract(folder)
    known = cycles(conn)
    problems = validate(extract, tariff_codes(conn), set(known))
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
    row = conn.execute("select id, status, steps_done, reads_done, counts from migration_runs where digest = %s",
                       (digest,)).fetchone()
    if row is not None and row[1] == "finished":
        return LoadResult(row[0], "already_loaded", row[4])
    extract, blocks, problems = check(conn, folder)
    if problems:
        raise ExtractInvalid(problems)
    if row is None:
        row = conn.execute("insert into migration_runs (source, digest, status) values (%s, %s, 'running') "
                           "returning id, status, steps_done, reads_done, counts", (str(folder), digest)).fetchone()
    run_id, _, done, reads_done, counts = row
    conn.execute("update migration_runs set status = 'running', error = null where id = %s", (run_id,))
    known = cycles(conn)
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
            conn.execute("update migration_runs set steps_done = array_append(steps_done, %s), counts = %s "
                         "where id = %s", (step, json.dumps(counts), run_id))
            if step == stop_after:
                conn.execute("update migration_runs set status = 'failed', error = %s where id = %s",
                             (f"stopped after {step}", run_id))
                return LoadResult(run_id, "stopped", counts)
    except Exception as error:
        conn.execute("update migration_runs set status = 'failed', error = %s where id = %s",
                     (f"{type(error).__name__}: {error}"[:1000], run_id))
        raise
    conn.execute("update migration_runs set status = 'finished', finished_at = now() where id = %s", (run_id,))
    return LoadResult(run_id, "loaded", counts)


def _key(conn, run_id: int, kind: str, legacy_id: str, new_id: int) -> None:
    conn.execute("insert into migration_keys (kind, legacy_id, new_id, run_id) values (%s, %s, %s, %s) "
                 "on conflict do nothing", (kind, legacy_id, new_id, run_id))


def _keys(conn, kind: str) -> dict[str, int]:
    return dict(conn.execute("select legacy_id, new_id from migration_keys where kind = %s", (kind,)).fetchall())


def _records(conn, run_id: int, extract: Extract, known: dict) -> dict:
    customers = {r["customer_id"]: r for r in extract.rows("customers.csv")}
    premises = _keys(conn, "premise")
    for row in extract.rows("premises.csv"):
        if row["premise_id"] not in premises:
            premise_id = conn.execute("insert into premises (address, zone) values (%s, %s) returning id",
                                      (row["address"], "UTC")).fetchone()[0]
            premises[row["premise_id"]] = premise_id
            _key(conn, run_id, "premise", row["premise_id"], premise_id)
    accounts = _keys(conn, "account")
    for row in extract.rows("accounts.csv"):
        if row["account_no"] in accounts:
            continue
        customer = customers[row["customer_id"]]
        cycle_id, zone, _ = known[row["billing_cycle"]]
        account_id = conn.execute(
            "insert into accounts (account_no, customer_name, billing_cycle_id, zone, delivery_channel, email, "
            "mailing_address) values (%s, %s, %s, %s, %s, %s, %s) returning id",
            (row["account_no"], customer["name"], cycle_id, zone, row["delivery_channel"] or "print",
             customer["email"] or None, customer["mailing_address"] or None)).fetchone()[0]
        accounts[row["account_no"]] = account_id
        _key(conn, run_id, "account", row["account_no"], account_id)
    zones = dict(conn.execute("select account_no, zone from accounts where account_no = any(%s)",
                              (list(accounts),)).fetchall())
    rate_codes = {r["rate_code"]: r["tariff_code"] for r in extract.rows("rate_codes.csv")}
    agreements = _keys(conn, "agreement")
    for row in extract.rows("service_agreements.csv"):
        if row["agreement_id"] in agreements:
            continue
        attributes = {"legacy_id": row["agreement_id"], "legacy_rate_code": row["rate_code"]}
        agreement_id = conn.execute(
            "insert into service_agreements (account_id, premise_id, service, start_date, end_date, attributes) "
            "values (%s, %s, %s, %s, %s, %s) returning id",
            (accounts[row["account_no"]], premises[row["premise_id"]], row["service"], row["start_date"],
             row["end_date"] or None, json.dumps(attributes))).fetchone()[0]
        conn.execute("insert into tariff_assignments (service_agreement_id, effective_from, tariff_code) "
                     "values (%s, %s, %s)", (agreement_id, row["start_date"], rate_codes[row["rate_code"]]))
        agreements[row["agreement_id"]] = agreement_id
        _key(conn, run_id, "agreement", row["agreement_id"], agreement_id)
    account_of = {r["agreement_id"]: r["account_no"] for r in extract.rows("service_agreements.csv")}
    meters = _keys(conn, "meter")
    for row in extract.rows("meters.csv"):
        if row["meter_no"] in meters:
            continue
        meter_id = conn.execute(
            "insert into meters (meter_no, service_agreement_id, service, unit, power_of_ten, interval_s, "
            "expected_high_per_hour, zone) values (%s, %s, %s, %s, %s, %s, %s, %s) returning id",
            (row["meter_no"], agreements[row["agreement_id"]], row["service"], row["unit"], int(row["power_of_ten"]),
             int(row["interval_s"]), int(row["max_per_hour"]), zones[account_of[row["agreement_id"]]])).fetchone()[0]
        meters[row["meter_no"]] = meter_id
        _key(conn, run_id, "meter", row["meter_no"], meter_id)
    conn.execute("update premises p set zone = a.zone from service_agreements s, accounts a, migration_keys k "
                 "where k.kind = 'premise' and k.new_id = p.id and s.premise_id = p.id and a.id = s.account_id")
    return {"accounts": len(accounts), "premises": len(premises), "agreements": len(agreements),
            "meters": len(meters)}


def _opening_balances(conn, run_id: int, extract: Extract, currency: str) -> dict:
    accounts = _keys(conn, "account")
    posted = _keys(conn, "opening_balance")
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
        _key(conn, run_id, "opening_balance", account_no, transaction_id)
        total += amount
        count += 1
    return {"accounts": count, "total_minor": total}


def _legacy_bills(conn, run_id: int, extract: Extract, currency: str) -> dict:
    accounts = _keys(conn, "account")
    charge_map = extract.charge_map()
    lines: dict[str, list] = {}
    for row in extract.rows("bill_lines.csv"):
        lines.setdefault(row["bill_no"], []).append(row)
    count = 0
    for row in extract.rows("bills.csv"):
        inserted = conn.execute(
            "insert into legacy_bills (bill_no, account_id, period_start, period_end, total_minor, "
            "balance_after_minor, run_id) values (%s, %s, %s, %s, %s, %s, %s) on conflict do nothing",
            (row["bill_no"], accounts[row["account_no"]], row["period_start"], row["period_end"],
             to_minor_exact(money(row["total"]), currency), to_minor_exact(money(row["balance_after"]), currency),
             run_id)).rowcount
        if not inserted:
            continue
        count += 1
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into legacy_bill_lines (bill_no, line_no, service, charge_code, legacy_code, description, "
                "amount_minor) values (%s, %s, %s, %s, %s, %s, %s)",
                [(row["bill_no"], n, line["service"], charge_map.get(line["charge_code"], line["charge_code"]),
                  line["charge_code"], line["description"], to_minor_exact(money(line["amount"]), currency))
                 for n, line in enumerate(lines.get(row["bill_no"], []), start=1)])
    return {"bills": count}


def _periods(conn, known: dict) -> dict:
    """The cycles' periods that hold the legacy bills, for the parallel run."""
    rows = conn.execute("select distinct a.billing_cycle_id, lb.period_start from legacy_bills lb "
                        "join accounts a on a.id = lb.account_id").fetchall()
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
            conn.execute("update migration_runs set reads_done = %s where id = %s", (first + len(chunk), run_id))
            if progress:
                progress(first + len(chunk), len(blocks))
    reads = sum(len(b.values) for b in blocks)
    exceptions = conn.execute("select count(*) from vee_exceptions e join migration_keys k on k.kind = 'meter' "
                              "and k.new_id = e.meter_id").fetchone()[0]
    return {"blocks": len(blocks), "reads": reads, "reads_flagged": flagged, "vee_exceptions": exceptions}
