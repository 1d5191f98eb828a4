"""A legacy CIS extract of a simulated utility (docs/migration.md), with deliberate discrepancies
whose kind and place are known, so a parallel run and a validation can be checked against them.

The legacy system's bills are priced by a function the caller passes (the generator command uses the
rating engine on the true reads); the discrepancies are then planted:

- ``rate_mapping``: a low-income electric rate code the legacy system billed with a lower customer
  charge, which the extract's rate-code mapping sends to the standard tariff (every period);
- ``missing_reads``: a day of a meter's reads missing from the read history (legacy billed it);
- ``proration``: the legacy bill's period ends a day later than the cycle's period here;
- ``rounding``: a legacy bill line one cent off.

With ``problems``, the files also carry one of each validation problem (duplicate, orphan, unknown
rate code, unknown tariff, meter on two premises, bill total not its lines, balance mismatch).
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import numpy as np

from simulators.files import day_blocks, write_csv
from simulators.utility import Utility, make_utility

LEGACY_RATE = {"electric": "R1", "water": "W1", "gas": "G1"}
LOW_INCOME_RATE = "RLI"
LOW_INCOME_CUSTOMER_CHARGE = Decimal("9.00")
# price(service, tariff code, period start, period end, quantity, unit, power of ten) -> [(code, text, amount)]
Pricer = Callable[[str, str, date, date, int, str, int], list[tuple[str, str, Decimal]]]
CAUSES = ("rate_mapping", "missing_reads", "proration", "rounding")


@dataclass
class Planted:
    utility: Utility
    periods: list[tuple[date, date]]
    discrepancies: dict[str, set[tuple[str, date]]] = field(default_factory=lambda: defaultdict(set))
    problems: set[tuple[str, str]] = field(default_factory=set)
    bills: int = 0


def monthly_periods(first: date, count: int) -> list[tuple[date, date]]:
    periods = []
    start = first
    for _ in range(count):
        end = date(start.year + start.month // 12, start.month % 12 + 1, start.day)
        periods.append((start, end))
        start = end
    return periods


def _write(folder: Path, name: str, header: list[str], rows: list[list]) -> None:
    with open(folder / name, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)


def write_extract(folder: str | Path, price: Pricer, meters: int = 30, seed: int = 21, cycle_code: str = "BC01",
                  zone: str = "America/Chicago", first_period: date = date(2026, 8, 1), period_count: int = 3,
                  discrepancies: int = 2, problems: bool = False) -> Planted:
    """Write the extract; ``discrepancies`` accounts of each cause are planted (in the last period, or
    every period for a rate mapping)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    periods = monthly_periods(first_period, period_count)
    utility = make_utility(meters=meters, seed=seed, zone=zone, cycle_code=cycle_code, period_start=periods[0][0],
                           period_end=periods[-1][1], time_of_use_share=0.0)
    planted = Planted(utility, periods)
    rng = np.random.default_rng([seed, 77])
    last_start = periods[-1][0]
    electric_accounts = sorted({m.account_no for m in utility.meters if m.service == "electric"})
    others = [a.account_no for a in utility.accounts]
    chosen: dict[str, list[str]] = {}
    taken: set[str] = set()
    for cause in CAUSES:
        pool = [a for a in (electric_accounts if cause == "rate_mapping" else others) if a not in taken]
        picks = [str(a) for a in rng.choice(pool, size=min(discrepancies, len(pool)), replace=False)]
        chosen[cause] = picks
        taken.update(picks)
        planted.discrepancies[cause] = {(a, last_start) for a in picks}
    low_income = set(chosen["rate_mapping"])
    # a rate code belongs to the account: every legacy period of those accounts differs
    planted.discrepancies["rate_mapping"] = {(a, start) for a in low_income for start, _ in periods}
    late_end = {a: periods[-1][1] + timedelta(days=1) for a in chosen["proration"]}

    # the read history, one day more than the periods (a legacy period may end a day later)
    days = (periods[-1][1] - periods[0][0]).days + 1
    blocks = list(day_blocks(utility, periods[0][0], days, seed=seed))
    missing_meter = {next(m.meter_no for m in utility.meters if m.account_no == a): a for a in chosen["missing_reads"]}
    dropped_day = int(datetime.combine(last_start + timedelta(days=9), time(0), ZoneInfo(zone)).timestamp())
    kept = [(m, b) for m, b in blocks if not (m.meter_no in missing_meter and b.start == dropped_day)]
    write_csv(str(folder / "reads.csv"), utility, kept)
    daily: dict[str, dict[date, int]] = defaultdict(dict)
    for meter, block in blocks:
        day = datetime.fromtimestamp(block.start, ZoneInfo(zone)).date()
        daily[meter.meter_no][day] = int(block.values.sum())

    accounts = {a.account_no: a for a in utility.accounts}
    number = {a.account_no: n for n, a in enumerate(utility.accounts, start=1)}
    customers = [[f"C{number[a]:07d}", accounts[a].customer_name, accounts[a].email or "",
                  f"{accounts[a].address}, Springfield"] for a in accounts]
    premises = [[f"P{number[a]:07d}", accounts[a].address] for a in accounts]
    account_rows = [[a, f"C{number[a]:07d}", cycle_code, accounts[a].delivery_channel] for a in accounts]
    agreements, meter_rows = [], []
    for meter in utility.meters:
        agreement = f"SA{meter.meter_no}"
        rate = LOW_INCOME_RATE if meter.service == "electric" and meter.account_no in low_income \
            else LEGACY_RATE[meter.service]
        agreements.append([agreement, meter.account_no, f"P{number[meter.account_no]:07d}", meter.service, rate,
                           "2026-01-01", ""])
        meter_rows.append([meter.meter_no, agreement, f"P{number[meter.account_no]:07d}", meter.service, meter.unit,
                           meter.power_of_ten, meter.interval_s, meter.expected_high_per_hour])
    rate_codes = [["R1", "electric", "E-RES"], ["W1", "water", "W-RES"], ["G1", "gas", "G-RES"],
                  [LOW_INCOME_RATE, "electric", "E-RES"]]

    bills, lines, payments, balances = [], [], [], []
    charge_codes: set[str] = set()
    for account_no in accounts:
        balance = Decimal(0)
        account_meters = [m for m in utility.meters if m.account_no == account_no]
        for index, (start, end) in enumerate(periods):
            if start == last_start and account_no in late_end:
                end = late_end[account_no]
            bill_no = f"L{number[account_no]:07d}-{index + 1:02d}"
            bill_lines = []
            for meter in account_meters:
                quantity = sum(daily[meter.meter_no].get(start + timedelta(days=d), 0) for d in range((end - start).days))
                tariff = {"electric": "E-RES", "water": "W-RES", "gas": "G-RES"}[meter.service]
                for code, text, amount in price(meter.service, tariff, start, end, quantity, meter.unit,
                                                meter.power_of_ten):
                    if code == "customer_charge" and meter.service == "electric" and account_no in low_income:
                        amount = LOW_INCOME_CUSTOMER_CHARGE
                    bill_lines.append([meter.service, code, text, amount])
            if start == last_start and account_no in chosen["rounding"]:
                bill_lines[-1][3] += Decimal("0.01")
            total = sum((line[3] for line in bill_lines), Decimal(0))
            paid = balance if rng.random() < 0.9 else Decimal(0)  # most customers paid the previous bill
            balance = balance - paid + total
            bills.append([bill_no, account_no, start.isoformat(), end.isoformat(), f"{total:.2f}", f"{balance:.2f}"])
            for service, code, text, amount in bill_lines:
                charge_codes.add(code)
                lines.append([bill_no, service, f"L-{code}", text, f"{amount:.2f}"])
            planted.bills += 1
        if rng.random() < 0.5 and balance > 0:
            payments.append([account_no, (periods[-1][1] + timedelta(days=12)).isoformat(), f"{balance:.2f}"])
            balance = Decimal(0)
        balances.append([account_no, (periods[-1][1] + timedelta(days=20)).isoformat(), f"{balance:.2f}"])

    if problems:
        _plant_problems(planted, customers, agreements, meter_rows, rate_codes, bills, balances)
    _write(folder, "customers.csv", ["customer_id", "name", "email", "mailing_address"], customers)
    _write(folder, "premises.csv", ["premise_id", "address"], premises)
    _write(folder, "accounts.csv", ["account_no", "customer_id", "billing_cycle", "delivery_channel"], account_rows)
    _write(folder, "service_agreements.csv", ["agreement_id", "account_no", "premise_id", "service", "rate_code",
                                              "start_date", "end_date"], agreements)
    _write(folder, "meters.csv", ["meter_no", "agreement_id", "premise_id", "service", "unit", "power_of_ten",
                                  "interval_s", "max_per_hour"], meter_rows)
    _write(folder, "rate_codes.csv", ["rate_code", "service", "tariff_code"], rate_codes)
    _write(folder, "charge_codes.csv", ["legacy_code", "charge_code"], [[f"L-{c}", c] for c in sorted(charge_codes)])
    _write(folder, "bills.csv", ["bill_no", "account_no", "period_start", "period_end", "total", "balance_after"],
           bills)
    _write(folder, "bill_lines.csv", ["bill_no", "service", "charge_code", "description", "amount"], lines)
    _write(folder, "payments.csv", ["account_no", "paid_on", "amount"], payments)
    _write(folder, "opening_balances.csv", ["account_no", "as_of", "balance"], balances)
    return planted


def _plant_problems(planted: Planted, customers, agreements, meter_rows, rate_codes, bills, balances) -> None:
    customers.append(list(customers[3]))
    planted.problems.add(("customers.csv", "duplicate"))
    agreements.append(["SA-ORPHAN", "A9999999", agreements[0][2], "water", "W1", "2026-01-01", ""])
    planted.problems.add(("service_agreements.csv", "orphan"))
    agreements.append(["SA-UNKNOWN", agreements[1][1], agreements[1][2], "gas", "ZZ9", "2026-01-01", ""])
    planted.problems.add(("service_agreements.csv", "unknown_rate_code"))
    rate_codes.append(["ROLD", "electric", "E-GONE"])
    planted.problems.add(("rate_codes.csv", "unknown_tariff"))
    moved = list(meter_rows[2])
    moved[2] = meter_rows[5][2]
    meter_rows.append(moved)
    planted.problems.add(("meters.csv", "meter_on_two_premises"))
    bills[4][4] = f"{Decimal(bills[4][4]) + Decimal('1.00'):.2f}"
    planted.problems.add(("bills.csv", "bill_total_mismatch"))
    balances[6][2] = f"{Decimal(balances[6][2]) + Decimal('10.00'):.2f}"
    planted.problems.add(("opening_balances.csv", "balance_mismatch"))
