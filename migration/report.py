"""The parallel run's report: a CSV of bills, a CSV of lines, and an HTML page with the summary and
the mismatches grouped by probable cause."""
from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

from jinja2 import Environment, select_autoescape

from migration.parallel_run import CAUSES, ParallelRun
from rating.money import MINOR_UNITS, format_minor

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parallel billing run</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td.t,th.t{text-align:left}
.bad{color:#a00}</style></head><body>
<h1>Parallel billing run</h1>
<p>{{ run.accounts() }} accounts, {{ run.bills|length }} bills of the last {{ run.periods }} legacy periods,
tolerance {{ money(run.tolerance_minor) }} a line, in {{ '%.1f'|format(run.seconds) }} s.</p>
<table><tr><th class="t">outcome</th><th>bills</th><th>share</th></tr>
<tr><td class="t">matched</td><td>{{ run.matched }}</td><td>{{ share(run.matched) }}</td></tr>
{% for cause in causes if cause in counts %}<tr class="bad"><td class="t">{{ cause }}</td><td>{{ counts[cause] }}</td>
<td>{{ share(counts[cause]) }}</td></tr>{% endfor %}</table>
{% for cause in causes if cause in counts %}
<h2 id="{{ cause }}">{{ cause }} ({{ counts[cause] }})</h2>
<table><tr><th class="t">account</th><th class="t">legacy bill</th><th class="t">legacy period</th>
<th class="t">period here</th><th>legacy</th><th>here</th><th>difference</th><th class="t">detail</th></tr>
{% for bill in run.bills if not bill.matched and bill.cause == cause %}
<tr><td class="t">{{ bill.account_no }}</td><td class="t">{{ bill.bill_no }}</td>
<td class="t">{{ bill.legacy_start }} – {{ bill.legacy_end }}</td><td class="t">{{ bill.period_start }} – {{ bill.period_end }}</td>
<td>{{ money(bill.legacy_minor) }}</td><td>{{ money(bill.new_minor) }}</td><td>{{ money(bill.difference) }}</td>
<td class="t">{{ bill.detail }}</td></tr>
{% endfor %}</table>
{% endfor %}
</body></html>
"""


def plain(amount_minor: int, currency: str) -> str:
    """An amount for a CSV cell: no thousands separator."""
    exponent = MINOR_UNITS[currency]
    return f"{Decimal(amount_minor).scaleb(-exponent):.{exponent}f}"


def write_report(run: ParallelRun, folder: str | Path, currency: str) -> dict[str, Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"bills": folder / "parallel_run_bills.csv", "lines": folder / "parallel_run_lines.csv",
             "html": folder / "parallel_run.html"}
    with open(paths["bills"], "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_no", "legacy_bill_no", "legacy_period_start", "legacy_period_end", "period_start",
                         "period_end", "legacy_total", "new_total", "difference", "outcome", "cause", "detail"])
        for bill in run.bills:
            writer.writerow([bill.account_no, bill.bill_no, bill.legacy_start, bill.legacy_end, bill.period_start,
                             bill.period_end, plain(bill.legacy_minor, currency),
                             plain(bill.new_minor, currency), plain(bill.difference, currency),
                             "match" if bill.matched else "mismatch", bill.cause, bill.detail])
    with open(paths["lines"], "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["account_no", "legacy_bill_no", "service", "charge_code", "legacy_amount", "new_amount",
                         "difference"])
        for bill in run.bills:
            for line in bill.lines:
                writer.writerow([bill.account_no, bill.bill_no, line.service, line.charge_code,
                                 plain(line.legacy_minor, currency), plain(line.new_minor, currency),
                                 plain(line.difference, currency)])
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    counts = run.causes()
    total = max(len(run.bills), 1)
    page = environment.from_string(PAGE).render(
        run=run, counts=counts, causes=CAUSES, money=lambda minor: format_minor(minor, currency),
        share=lambda n: f"{n / total:.1%}")
    paths["html"].write_text(page, encoding="utf-8")
    return paths
