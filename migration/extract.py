"""The legacy extract: a folder of CSV files (docs/migration.md), read and checked without loading.

Every problem is reported with its file and line and a stable code; nothing stops at the first one.
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from meterdata.formats import csv_reads
from meterdata.formats.scaling import MeterUnit, to_blocks

SERVICES = ("electric", "water", "gas")
CHANNELS = ("print", "email", "portal")

# file -> (required columns, optional columns)
FILES = {
    "customers.csv": (("customer_id", "name"), ("email", "mailing_address")),
    "premises.csv": (("premise_id", "address"), ()),
    "accounts.csv": (("account_no", "customer_id", "billing_cycle"), ("delivery_channel",)),
    "service_agreements.csv": (("agreement_id", "account_no", "premise_id", "service", "rate_code", "start_date"),
                               ("end_date",)),
    "meters.csv": (("meter_no", "agreement_id", "premise_id", "service", "unit", "power_of_ten", "interval_s",
                    "max_per_hour"), ()),
    "rate_codes.csv": (("rate_code", "service", "tariff_code"), ()),
    "opening_balances.csv": (("account_no", "as_of", "balance"), ()),
    "bills.csv": (("bill_no", "account_no", "period_start", "period_end", "total", "balance_after"), ()),
    "bill_lines.csv": (("bill_no", "service", "charge_code", "amount"), ("description",)),
    "payments.csv": (("account_no", "paid_on", "amount"), ()),
}
READS = "reads.csv"  # the read history, in the CSV reads format (docs/importers.md)
OPTIONAL_FILES = ("payments.csv", "charge_codes.csv")
CHARGE_CODES = (("legacy_code", "charge_code"), ())


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.code}: {self.detail}"


@dataclass
class Row:
    line: int
    values: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass
class Extract:
    folder: Path
    tables: dict[str, list[Row]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def rows(self, name: str) -> list[Row]:
        return self.tables.get(name, [])

    def charge_map(self) -> dict[str, str]:
        return {r["legacy_code"]: r["charge_code"] for r in self.rows("charge_codes.csv")}


def read_extract(folder: str | Path, skip: tuple[str, ...] = ()) -> Extract:
    """Every table of the extract except ``skip``; the read history is read by :func:`read_history`."""
    extract = Extract(Path(folder))
    if not (extract.folder / READS).exists():
        extract.problems.append(Problem(READS, 0, "missing_file", f"{extract.folder / READS} does not exist"))
    specs = dict(FILES, **{"charge_codes.csv": CHARGE_CODES})
    for name, (required, optional) in specs.items():
        if name in skip:
            continue
        path = extract.folder / name
        if not path.exists():
            if name not in OPTIONAL_FILES:
                extract.problems.append(Problem(name, 0, "missing_file", f"{path} does not exist"))
            continue
        extract.tables[name] = _read(path, name, required, optional, extract.problems)
    return extract


def _read(path: Path, name: str, required, optional, problems: list[Problem]) -> list[Row]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in required if c not in header]
        unknown = [c for c in header if c not in required + optional]
        if missing or unknown:
            problems.append(Problem(name, 1, "bad_header", f"missing {missing}, unknown {unknown}"))
            return []
        rows = []
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(Problem(name, number, "bad_row", f"{len(cells)} fields, the header has {len(header)}"))
                continue
            rows.append(Row(number, {h: c.strip() for h, c in zip(header, cells)}))
        return rows


def money(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise InvalidOperation(text)
    return value


def validate(extract: Extract, tariff_codes: set[str], cycle_codes: set[str]) -> list[Problem]:
    """Every problem of the extract: bad values, duplicates, orphans, unknown rate codes and tariffs,
    meters on two premises, bills whose lines do not add up, balances that do not follow from the bill
    history. ``tariff_codes`` and ``cycle_codes`` are those published/created here."""
    check = _Checks(extract)
    check.accounts(cycle_codes)
    check.rate_codes(tariff_codes)
    check.agreements()
    check.meters()
    last_bill = check.bills()
    check.balances(last_bill, check.payments())
    return sorted(check.problems, key=lambda p: (p.file, p.line, p.code))


class _Checks:
    """The checks of one extract, file by file, each adding to ``problems``; the records' keys are
    checked for uniqueness first (every later check looks its references up in them)."""

    def __init__(self, extract: Extract):
        self.extract = extract
        self.problems = list(extract.problems)
        self.customers = self.unique("customers.csv", "customer_id")
        self.premises = self.unique("premises.csv", "premise_id")
        self.account_rows = self.unique("accounts.csv", "account_no")
        self.agreement_rows = self.unique("service_agreements.csv", "agreement_id")
        self.rate_code_rows = self.unique("rate_codes.csv", "rate_code")
        self.bill_rows = self.unique("bills.csv", "bill_no")
        self.meter_rows = self.unique("meters.csv", "meter_no")

    def add(self, name: str, row: Row, code: str, detail: str) -> None:
        self.problems.append(Problem(name, row.line, code, detail))

    def unique(self, name: str, key: str) -> dict[str, Row]:
        seen: dict[str, Row] = {}
        for row in self.extract.rows(name):
            if not row[key]:
                self.add(name, row, "missing_value", f"{key} is empty")
            elif row[key] in seen:
                if name != "meters.csv" or row["premise_id"] == seen[row[key]]["premise_id"]:
                    self.add(name, row, "duplicate", f"{key} {row[key]} is also on line {seen[row[key]].line}")
            else:
                seen[row[key]] = row
        return seen

    def accounts(self, cycle_codes: set[str]) -> None:
        for row in self.extract.rows("accounts.csv"):
            if row["customer_id"] not in self.customers:
                self.add("accounts.csv", row, "orphan", f"customer {row['customer_id']} is not in customers.csv")
            if row["billing_cycle"] not in cycle_codes:
                self.add("accounts.csv", row, "unknown_cycle", f"billing cycle {row['billing_cycle']} does not exist here")
            if row["delivery_channel"] and row["delivery_channel"] not in CHANNELS:
                self.add("accounts.csv", row, "bad_value",
                         f"delivery_channel {row['delivery_channel']!r} is one of {CHANNELS}")

    def rate_codes(self, tariff_codes: set[str]) -> None:
        for row in self.extract.rows("rate_codes.csv"):
            if row["tariff_code"] not in tariff_codes:
                self.add("rate_codes.csv", row, "unknown_tariff", f"{row['rate_code']} maps to {row['tariff_code']}, "
                                                                  "which is not published")
            if row["service"] not in SERVICES:
                self.add("rate_codes.csv", row, "bad_value", f"service {row['service']!r}")

    def agreements(self) -> None:
        name = "service_agreements.csv"
        for row in self.extract.rows(name):
            if row["account_no"] not in self.account_rows:
                self.add(name, row, "orphan", f"account {row['account_no']} is not in accounts.csv")
            if row["premise_id"] not in self.premises:
                self.add(name, row, "orphan", f"premise {row['premise_id']} is not in premises.csv")
            if row["service"] not in SERVICES:
                self.add(name, row, "bad_value", f"service {row['service']!r}")
            code = self.rate_code_rows.get(row["rate_code"])
            if code is None:
                self.add(name, row, "unknown_rate_code", f"rate code {row['rate_code']!r} is not in rate_codes.csv")
            elif code["service"] != row["service"]:
                self.add(name, row, "rate_code_service",
                         f"rate code {row['rate_code']} is for {code['service']}, the agreement is {row['service']}")
            _dates(row, ("start_date", "end_date"), name, self.add)

    def meters(self) -> None:
        name = "meters.csv"
        for row in self.extract.rows(name):
            first = self.meter_rows.get(row["meter_no"])
            if first is not None and first is not row and first["premise_id"] != row["premise_id"]:
                self.add(name, row, "meter_on_two_premises", f"meter {row['meter_no']} is at premise "
                         f"{row['premise_id']} here and at {first['premise_id']} on line {first.line}")
                continue
            agreement = self.agreement_rows.get(row["agreement_id"])
            if agreement is None:
                self.add(name, row, "orphan", f"agreement {row['agreement_id']} is not in service_agreements.csv")
            else:
                if agreement["service"] != row["service"]:
                    self.add(name, row, "service_mismatch",
                             f"a {row['service']} meter on a {agreement['service']} agreement")
                if agreement["premise_id"] != row["premise_id"]:
                    self.add(name, row, "premise_mismatch", f"meter at premise {row['premise_id']}, its agreement "
                             f"at {agreement['premise_id']}")
            for column in ("power_of_ten", "interval_s", "max_per_hour"):
                try:
                    int(row[column])
                except ValueError:
                    self.add(name, row, "bad_value", f"{column} {row[column]!r} is not a whole number")

    def bills(self) -> dict[str, Row]:
        """Check bills against their lines; returns each account's latest bill."""
        lines_by_bill: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.extract.rows("bill_lines.csv"):
            if row["bill_no"] not in self.bill_rows:
                self.add("bill_lines.csv", row, "orphan", f"bill {row['bill_no']} is not in bills.csv")
            try:
                lines_by_bill[row["bill_no"]] += money(row["amount"])
            except (InvalidOperation, ValueError):
                self.add("bill_lines.csv", row, "bad_value", f"amount {row['amount']!r}")
        last_bill: dict[str, Row] = {}
        for row in self.extract.rows("bills.csv"):
            if row["account_no"] not in self.account_rows:
                self.add("bills.csv", row, "orphan", f"account {row['account_no']} is not in accounts.csv")
            if not _dates(row, ("period_start", "period_end"), "bills.csv", self.add):
                continue
            try:
                total = money(row["total"])
                money(row["balance_after"])
            except (InvalidOperation, ValueError):
                self.add("bills.csv", row, "bad_value",
                         f"total {row['total']!r} / balance_after {row['balance_after']!r}")
                continue
            if total != lines_by_bill.get(row["bill_no"], Decimal(0)):
                self.add("bills.csv", row, "bill_total_mismatch", f"total {total}, its lines add up to "
                         f"{lines_by_bill.get(row['bill_no'], Decimal(0))}")
            previous = last_bill.get(row["account_no"])
            if previous is None or row["period_start"] > previous["period_start"]:
                last_bill[row["account_no"]] = row
        return last_bill

    def payments(self) -> dict[str, Decimal]:
        """Check payments; returns what each account paid (after its bills)."""
        paid_after: dict[str, Decimal] = defaultdict(Decimal)
        for row in self.extract.rows("payments.csv"):
            if row["account_no"] not in self.account_rows:
                self.add("payments.csv", row, "orphan", f"account {row['account_no']} is not in accounts.csv")
                continue
            try:
                paid_after[row["account_no"]] += money(row["amount"])
            except (InvalidOperation, ValueError):
                self.add("payments.csv", row, "bad_value", f"amount {row['amount']!r}")
        return paid_after

    def balances(self, last_bill: dict[str, Row], paid_after: dict[str, Decimal]) -> None:
        """An opening balance must be the last bill's balance less what was paid since."""
        for row in self.extract.rows("opening_balances.csv"):
            if row["account_no"] not in self.account_rows:
                self.add("opening_balances.csv", row, "orphan", f"account {row['account_no']} is not in accounts.csv")
                continue
            try:
                balance = money(row["balance"])
            except (InvalidOperation, ValueError):
                self.add("opening_balances.csv", row, "bad_value", f"balance {row['balance']!r}")
                continue
            last = last_bill.get(row["account_no"])
            if last is not None:
                expected = money(last["balance_after"]) - paid_after[row["account_no"]]
                if balance != expected:
                    self.add("opening_balances.csv", row, "balance_mismatch",
                             f"opening balance {balance}, the bill history says {expected} (bill {last['bill_no']} "
                             f"balance {last['balance_after']} less {paid_after[row['account_no']]} paid since)")


def _dates(row: Row, columns, name: str, add) -> bool:
    good = True
    for column in columns:
        if row[column] or column in ("start_date", "period_start", "period_end"):
            try:
                date.fromisoformat(row[column])
            except ValueError:
                add(name, row, "bad_value", f"{column} {row[column]!r} is not YYYY-MM-DD")
                good = False
    return good


def meter_units(extract: Extract, zones: dict[str, str]) -> dict[str, MeterUnit]:
    """The extract's meters as the read converter needs them; ``zones``: cycle code -> zone."""
    agreements = {r["agreement_id"]: r for r in extract.rows("service_agreements.csv")}
    cycles = {r["account_no"]: r["billing_cycle"] for r in extract.rows("accounts.csv")}
    units = {}
    for row in extract.rows("meters.csv"):
        agreement = agreements.get(row["agreement_id"])
        zone = zones.get(cycles.get(agreement["account_no"], "") if agreement else "", "")
        try:
            units[row["meter_no"]] = MeterUnit(row["meter_no"], row["unit"], int(row["power_of_ten"]),
                                               int(row["interval_s"]), zone or "UTC")
        except ValueError:
            continue
    return units


def read_history(extract: Extract, zones: dict[str, str]):
    """(blocks, problems) of the read history: every read converted to its meter's resolution."""
    with open(extract.folder / READS, newline="", encoding="utf-8-sig") as handle:
        parsed = csv_reads.parse(handle)
    units = meter_units(extract, zones)
    problems = [Problem(READS, r.line, r.reason, r.detail) for r in parsed.rejected]
    blocks = []
    for series in parsed.series:
        meter = units.get(series.source_id)
        if meter is None:
            problems.append(Problem(READS, series.line, "orphan", f"meter {series.source_id} is not in meters.csv"))
            continue
        converted = to_blocks(series, meter)
        problems += [Problem(READS, r.line, r.reason, r.detail) for r in converted.rejected]
        blocks += converted.blocks
    for read in parsed.registers:
        problems.append(Problem(READS, read.line, "register_read", "register reads are not migrated: send intervals"))
    return blocks, problems
