"""``m2c tariff ...`` and ``m2c rate ...``: tariffs as data, quotes and rate-change impact."""
from __future__ import annotations

import difflib
import json
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from meter2cash.arguments import UsageError, day
from config.settings import Settings
from storage.tariffs import tariff_document, tariff_summaries
from rating.errors import RatingError, TariffInvalid
from rating.importers import FORMATS, document_from_text, load_tariff
from rating.money import format_minor
from rating.toml_out import dumps


def _connect(settings: Settings):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=True)


def _load(path: str, fmt: str | None):
    text = Path(path).read_text()
    return load_tariff(text, path, fmt), document_from_text(text, path, fmt)


def _current_text(settings: Settings, reference: str) -> tuple[str, str]:
    """A file path, or CODE / CODE@REVISION from the database -> (TOML text, label)."""
    if Path(reference).exists():
        return dumps(document_from_text(Path(reference).read_text(), reference)), reference
    code, _, revision = reference.partition("@")
    with _connect(settings) as conn:
        row = tariff_document(conn, code, int(revision) if revision else None)
    if row is None:
        raise UsageError("no_such_tariff", f"no tariff {reference!r}: neither a file nor a published code")
    return row[1], f"{code}@revision {row[0]}"


def cmd_tariff(args, settings: Settings) -> int:
    if args.action == "list":
        with _connect(settings) as conn:
            rows = tariff_summaries(conn)
        print(f"{'code':<36} {'service':<9} {'revisions':>9} {'latest':>7}  published")
        for code, service, count, latest, published in rows:
            print(f"{code:<36} {service:<9} {count:>9} {latest:>7}  {published:%Y-%m-%d %H:%M}")
        return 0
    if not args.files:
        raise UsageError("files_required", f"tariff {args.action} takes one or more tariff files (or CODE[@REVISION])")
    if args.action == "show":
        print(_current_text(settings, args.files[0])[0], end="")
        return 0
    if args.action == "diff":
        if len(args.files) != 2:
            raise UsageError("two_tariffs_required", "tariff diff takes two tariffs (files or CODE[@REVISION])")
        (old, old_label), (new, new_label) = (_current_text(settings, f) for f in args.files)
        diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), old_label, new_label, lineterm=""))
        print("\n".join(diff) if diff else "no differences")
        return 0
    failed = 0
    for path in args.files:
        try:
            tariff, document = _load(path, args.format)
        except TariffInvalid as error:
            print(error, file=sys.stderr)
            failed += 1
            continue
        if args.action == "validate":
            print(f"{path}: ok ({tariff.code}, {tariff.service}, {len(tariff.versions)} version(s), "
                  f"{sum(len(v.rules) for v in tariff.versions)} charge(s))")
        elif args.action == "convert":
            print(dumps(document), end="")
        else:
            from storage.tariffs import publish

            with _connect(settings) as conn:
                revision = publish(conn, dumps(document), path, published_by=args.by)
            print(f"{path}: published {tariff.code} as revision {revision}")
    return 1 if failed else 0


def _attributes(pairs: list[str]) -> dict[str, str]:
    attributes = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise UsageError("bad_attribute", f"--attr takes NAME=VALUE, got {pair!r}")
        attributes[name] = value
    return attributes


def _day(text: str, zone: str) -> date:
    """A billing period bound: YYYY-MM-DD, or an ISO time whose local date in ``zone`` is taken."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (moment if moment.tzinfo is None else moment.astimezone(ZoneInfo(zone))).date()


def cmd_rate_quote(args, settings: Settings) -> int:
    from rating.csv_usage import UsageFileInvalid, parse_usage_csv
    from rating.pricing import UsageInput, rate

    zone = args.zone or settings.utility_zone
    try:
        tariff, _ = _load(args.tariff, args.format)
        usage = parse_usage_csv(Path(args.usage).read_text())
        start, end = _day(args.start, zone), _day(args.end, zone)
        quote = rate(tariff, start, end, UsageInput(intervals=usage.intervals, factor=usage.factor,
                                                    in_ccf=tariff.billing_unit == "therm"),
                     zone=zone, attributes=_attributes(args.attr), proration=args.proration)
    except (TariffInvalid, UsageFileInvalid) as error:
        print(error, file=sys.stderr)
        return 2
    except RatingError as error:
        print(f"cannot price: {error.code}: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({
            "tariff": tariff.code, "period_start": start.isoformat(), "period_end": end.isoformat(), "zone": zone,
            "currency": tariff.currency,
            "lines": [{"code": l.code, "description": l.description, "quantity": str(l.quantity), "unit": l.unit,
                       "price": None if l.price is None else str(l.price), "amount": str(l.amount),
                       "amount_minor": l.amount_minor, "tariff_version": l.tariff_version} for l in quote.lines],
            "total": format_minor(quote.total_minor, tariff.currency).replace(",", ""),
            "total_minor": quote.total_minor}, indent=2))
        return 0
    print(f"{tariff.code}: {tariff.name}  {start} .. {end} (end excluded), {zone}")
    print(f"{'code':<28} {'description':<40} {'quantity':>14} {'unit':<7} {'price':>10} {'amount':>12}  version")
    for line in quote.lines:
        price = "" if line.price is None else f"{line.price.normalize():f}"
        quantity = f"{line.quantity.quantize(Decimal('0.001')):f}"
        print(f"{line.code:<28} {line.description[:40]:<40} {quantity:>14} {line.unit:<7} {price:>10} "
              f"{format_minor(line.amount_minor, tariff.currency):>12}  {line.tariff_version}")
    print(f"{'total':<28} {'':<40} {'':>14} {'':<7} {'':>10} {format_minor(quote.total_minor, tariff.currency):>12}")
    return 0


def cmd_rate_impact(args, settings: Settings) -> int:
    from billing.rate_impact import stored_impact
    from rating.importers import load_tariff as load

    zone = args.zone or settings.utility_zone
    current_text, current_label = _current_text(settings, args.current)
    proposed_text, proposed_label = _current_text(settings, args.proposed)
    current, proposed = load(current_text, current_label, "toml"), load(proposed_text, proposed_label, "toml")
    start, end = _day(args.period_start, zone), _day(args.period_end, zone)
    with _connect(settings) as conn:
        report = stored_impact(conn, current, proposed, start, end, zone, top=args.top)
    currency = current.currency
    if args.json:
        print(json.dumps({
            "current": current_label, "proposed": proposed_label, "period_start": start.isoformat(),
            "period_end": end.isoformat(), "customers": report.customers,
            "current_revenue_minor": report.current_revenue_minor,
            "proposed_revenue_minor": report.proposed_revenue_minor,
            "revenue_difference_minor": report.revenue_difference_minor, "percentiles": report.percentiles,
            "largest": [{"customer": c.key, "current_minor": c.current_minor, "proposed_minor": c.proposed_minor,
                         "difference_minor": c.difference_minor, "percent": c.percent} for c in report.largest],
            "failed": report.failed}, indent=2))
        return 0
    print(f"{current_label} -> {proposed_label}, {start} .. {end}: {report.customers} service agreements")
    print(f"revenue   current {format_minor(report.current_revenue_minor, currency)}  proposed "
          f"{format_minor(report.proposed_revenue_minor, currency)}  difference "
          f"{format_minor(report.revenue_difference_minor, currency)} {currency}")
    for p, value in report.percentiles["percent"].items():
        amount = report.percentiles["difference_minor"].get(p, 0.0)
        print(f"  p{p:<3} bill change {value:+7.2f} %   {format_minor(round(amount), currency):>10} {currency}")
    print("largest changes:")
    for change in report.largest:
        percent = "" if change.percent is None else f"{change.percent:+.1f} %"
        print(f"  {change.key:<24} {format_minor(change.current_minor, currency):>10} -> "
              f"{format_minor(change.proposed_minor, currency):>10}  {percent}")
    for key, code in sorted(report.failed.items())[:10]:
        print(f"  not priced {key}: {code}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("tariff", help="tariffs as data: validate, convert, publish, list, show, diff")
    p.add_argument("action", choices=["validate", "convert", "publish", "list", "show", "diff"])
    p.add_argument("files", nargs="*", help="tariff files (TOML, URDB JSON, OWRS YAML) or CODE[@REVISION]")
    p.add_argument("--format", choices=FORMATS, help="default: from the file name and content")
    p.add_argument("--by", help="who publishes (recorded with the revision)")
    p.set_defaults(func=cmd_tariff)

    rate = sub.add_parser("rate", help="price usage without any service, or a rate change's impact")
    rate_sub = rate.add_subparsers(dest="rate_command", required=True)
    q = rate_sub.add_parser("quote", help="price a usage CSV under a tariff")
    q.add_argument("--tariff", required=True)
    q.add_argument("--usage", required=True, help="CSV: start,value[,channel][,demand_kw]")
    q.add_argument("--start", type=day, required=True)
    q.add_argument("--end", type=day, required=True)
    q.add_argument("--zone")
    q.add_argument("--attr", action="append", help="NAME=VALUE, e.g. meter_size=3/4\"")
    q.add_argument("--format", choices=FORMATS)
    q.add_argument("--proration", choices=["days", "consumption"], help="default: the tariff's")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_rate_quote)
    i = rate_sub.add_parser("impact", help="re-price stored usage under the current and a proposed tariff")
    i.add_argument("--current", required=True, help="CODE[@REVISION] or a file")
    i.add_argument("--proposed", required=True, help="CODE[@REVISION] or a file")
    i.add_argument("--period-start", type=day, required=True)
    i.add_argument("--period-end", type=day, required=True)
    i.add_argument("--zone")
    i.add_argument("--top", type=int, default=10)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_rate_impact)
