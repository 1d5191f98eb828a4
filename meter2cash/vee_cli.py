"""``m2c vee thresholds list|set``: VEE thresholds per service type and meter class, effective by date."""
from __future__ import annotations

import getpass
import sys
from datetime import date
from decimal import Decimal, InvalidOperation

from meter2cash.arguments import day
from config.settings import Settings


def cmd_vee(args, settings: Settings) -> int:
    import psycopg

    from storage.vee_thresholds import rows, set_threshold
    from vee.thresholds import DEFAULTS

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        if args.what == "holidays":
            return _holidays(conn, args)
        if args.action == "list":
            print(f"{'service':<9} {'class':<12} {'parameter':<22} {'value':>10}  effective from")
            for parameter, defaults in DEFAULTS.items():
                for service, value in defaults.items():
                    shown = "meter's own" if value is None else f"{value:g}"
                    print(f"{service or '*':<9} {'*':<12} {parameter:<22} {shown:>10}  (default)")
            for service, meter_class, parameter, value, effective_from in rows(conn):
                print(f"{service:<9} {meter_class or '*':<12} {parameter:<22} {value:>10}  {effective_from}")
            return 0
        problems = []
        if args.parameter not in DEFAULTS:
            problems.append(f"parameter {args.parameter!r} is one of {', '.join(DEFAULTS)}")
        if args.service not in ("electric", "water", "gas"):
            problems.append(f"service {args.service!r} is electric, water or gas")
        try:
            value = Decimal(args.value)
            if not value.is_finite() or value < 0:
                raise InvalidOperation
        except (InvalidOperation, TypeError):
            problems.append(f"value {args.value!r} is a number of zero or more")
        try:
            effective = date.fromisoformat(args.effective_from)
        except (TypeError, ValueError):
            problems.append(f"--from {args.effective_from!r} is YYYY-MM-DD")
        if not args.why:
            problems.append("say why with --why")
        if problems:
            print("error: bad_threshold: " + "; ".join(problems), file=sys.stderr)
            return 2
        set_threshold(conn, args.service, args.meter_class, args.parameter, value, effective,
                      args.by or getpass.getuser(), args.why)
    print(f"{args.parameter} for {args.service}{'/' + args.meter_class if args.meter_class else ''} = {value} "
          f"from {effective} (workers pick it up within a minute)")
    return 0


def _holidays(conn, args) -> int:
    """``m2c vee holidays list`` / ``add DAY NAME``: days estimation treats as Sundays."""
    from storage.vee_thresholds import add_holiday, list_holidays

    if args.action == "list":
        for holiday, name in list_holidays(conn):
            print(f"{holiday}  {name}")
        return 0
    try:
        holiday = date.fromisoformat(args.service or "")
    except ValueError:
        print("error: bad_day: m2c vee holidays add YYYY-MM-DD NAME", file=sys.stderr)
        return 2
    add_holiday(conn, holiday, args.parameter or "holiday", args.by or getpass.getuser())
    print(f"{holiday}: {args.parameter or 'holiday'} (estimated like a Sunday)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("vee", help="VEE thresholds per service type and meter class, effective by date; holidays")
    p.add_argument("what", choices=["thresholds", "holidays"])
    p.add_argument("action", choices=["list", "set", "add"])
    p.add_argument("service", nargs="?")
    p.add_argument("parameter", nargs="?")
    p.add_argument("value", nargs="?")
    p.add_argument("--class", dest="meter_class", help="only meters of this class (default: every meter)")
    p.add_argument("--from", dest="effective_from", type=day, help="the first day it applies to (YYYY-MM-DD)")
    p.add_argument("--why")
    p.add_argument("--by", help="who sets it (default: the login name)")
    p.set_defaults(func=cmd_vee)
