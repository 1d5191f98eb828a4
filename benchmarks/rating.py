"""Rating throughput: service-agreement-periods priced per second on one core.

A time-of-use + tiered + demand tariff (plus a fixed charge and a tax rider) prices 15-minute
interval data:
- ``period``: one billing month per agreement, agreements summarized as one matrix per chunk;
- ``year``: a year of data per agreement, priced as 12 monthly bills.
Seeded synthetic data; prints a table and writes benchmarks/results/rating.json with the machine.

    python benchmarks/rating.py [--agreements 20000] [--chunk 2000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, time as clock
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe, save  # noqa: E402
from rating.pricing import UsageInput, rate  # noqa: E402
from rating.tariff import parse_tariff  # noqa: E402
from rating.usage import summarize_matrix  # noqa: E402

ZONE = "America/Chicago"
TARIFF = """
code = "BENCH-TOU"
service = "electric"
currency = "USD"
billing_unit = "kWh"
[[versions]]
effective_from = "2026-01-01"
  [versions.tou]
  periods = ["off_peak", "mid_peak", "on_peak"]
  default = "off_peak"
  holidays = ["2026-01-01", "2026-05-25", "2026-07-03", "2026-09-07", "2026-11-26", "2026-12-25"]
  rules = [{ period = "on_peak", months = [6, 7, 8, 9], days = "weekday", hours = [15, 20] },
           { period = "mid_peak", days = "weekday", hours = [7, 22] }]
  [[versions.charges]]
  kind = "fixed"
  code = "customer"
  amount = "11.25"
  [[versions.charges]]
  kind = "tou_energy"
  code = "energy"
  prices = { off_peak = "0.0712", mid_peak = "0.1130", on_peak = "0.2415" }
  [[versions.charges]]
  kind = "tiered"
  code = "delivery"
  tiers = [{ up_to = "500", price = "0.0321" }, { up_to = "1000", price = "0.0415" }, { price = "0.0530" }]
  [[versions.charges]]
  kind = "demand"
  code = "demand"
  price = "6.75"
  [[versions.charges]]
  kind = "demand"
  code = "peak_demand"
  period = "on_peak"
  price = "3.10"
  [[versions.charges]]
  kind = "rider"
  code = "tax"
  percent = "4.5"
"""


def month_bounds(year: int) -> list[tuple[date, date]]:
    return [(date(year, m, 1), date(year + (m == 12), m % 12 + 1, 1)) for m in range(1, 13)]


def epoch(day: date) -> int:
    return int(datetime.combine(day, clock(0), ZoneInfo(ZONE)).timestamp())


def load(rng: np.random.Generator, agreements: int, starts: np.ndarray) -> np.ndarray:
    """Wh per 15 minutes: a diurnal shape x a per-agreement size x noise."""
    hour = ((starts - 6 * 3600) % 86400) / 3600
    shape = 0.4 + 0.5 * np.exp(-((hour - 8) ** 2) / 4) + 1.0 * np.exp(-((hour - 18) ** 2) / 6)
    size = rng.uniform(0.3, 2.5, (agreements, 1))
    return np.rint(shape * 250 * size * rng.uniform(0.7, 1.3, (agreements, len(starts)))).astype(np.int64)


def bench_period(tariff, agreements: int, chunk: int, rng) -> dict:
    start, end = date(2026, 7, 1), date(2026, 8, 1)
    starts = np.arange(epoch(start), epoch(end), 900, dtype=np.int64)
    calendar = tariff.versions[0].calendar
    factor = Decimal("0.001")
    priced, total_minor, summarize_s, rate_s = 0, 0, 0.0, 0.0
    for first in range(0, agreements, chunk):
        count = min(chunk, agreements - first)
        values = load(rng, count, starts)
        began = time.process_time()
        summaries = summarize_matrix(starts, 900, values, None, factor, calendar, ZONE)
        middle = time.process_time()
        for row in range(count):
            quote = rate(tariff, start, end, UsageInput(factor=factor, summary=summaries[row]), zone=ZONE)
            total_minor += quote.total_minor
        summarize_s += middle - began
        rate_s += time.process_time() - middle
        priced += count
    seconds = summarize_s + rate_s
    return {"agreement_periods": priced, "intervals_per_period": len(starts), "cpu_seconds": round(seconds, 3),
            "summarize_cpu_seconds": round(summarize_s, 3), "price_cpu_seconds": round(rate_s, 3),
            "agreement_periods_per_second": round(priced / seconds), "total_billed_minor": total_minor}


def bench_year(tariff, agreements: int, rng) -> dict:
    months = month_bounds(2026)
    starts = np.arange(epoch(months[0][0]), epoch(months[-1][1]), 900, dtype=np.int64)
    calendar = tariff.versions[0].calendar
    factor = Decimal("0.001")
    values = load(rng, agreements, starts)
    began = time.process_time()
    priced = 0
    for first, last in months:
        lo, hi = np.searchsorted(starts, [epoch(first), epoch(last)])
        summaries = summarize_matrix(starts[lo:hi], 900, values[:, lo:hi], None, factor, calendar, ZONE)
        for row in range(agreements):
            rate(tariff, first, last, UsageInput(factor=factor, summary=summaries[row]), zone=ZONE)
            priced += 1
    seconds = time.process_time() - began
    return {"agreements": agreements, "intervals_per_agreement": len(starts), "agreement_periods": priced,
            "cpu_seconds": round(seconds, 3), "agreement_periods_per_second": round(priced / seconds),
            "agreement_years_per_second": round(agreements / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=20_000)
    parser.add_argument("--year-agreements", type=int, default=1_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tariff = parse_tariff(TARIFF, "bench")
    rng = np.random.default_rng(2026)
    bench_period(tariff, 200, 200, rng)  # warm-up: zone tables, imports, the kernel for both array layouts
    bench_year(tariff, 20, rng)
    # the machine is shared with other work: repeat, keep every run, report the median
    periods = [bench_period(tariff, args.agreements, args.chunk, np.random.default_rng(1)) for _ in range(args.repeat)]
    years = [bench_year(tariff, args.year_agreements, np.random.default_rng(2)) for _ in range(args.repeat)]
    period = sorted(periods, key=lambda r: r["agreement_periods_per_second"])[len(periods) // 2]
    year = sorted(years, key=lambda r: r["agreement_periods_per_second"])[len(years) // 2]
    result = {"benchmark": "rating", "machine": describe(),
              "tariff": "TOU energy (3 periods, holidays) + tiered delivery + demand + on-peak demand + fixed + tax",
              "one_core": "CPU time of this process (single-threaded NumPy)", "repeats": args.repeat,
              "period": period, "year": year,
              "all_runs": {"period": [r["agreement_periods_per_second"] for r in periods],
                           "year": [r["agreement_periods_per_second"] for r in years]}}
    save("rating", result)
    print(f"median of {args.repeat} runs")
    print("| mode | agreement-periods | CPU s | agreement-periods/s |")
    print(f"| one month (15-min) | {period['agreement_periods']:,} | {period['cpu_seconds']} | "
          f"{period['agreement_periods_per_second']:,} |")
    print(f"| a year as 12 bills | {year['agreement_periods']:,} | {year['cpu_seconds']} | "
          f"{year['agreement_periods_per_second']:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
