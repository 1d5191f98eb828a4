"""``m2c meters install|exchange|remove``, ``m2c service start|stop|transfer`` and ``m2c bills final``: the
records over time. Each prints for people, or one JSON object with ``--json``; who (``--by``, default
your login) and why (``--why``) are recorded."""
from __future__ import annotations

import getpass
import json
from datetime import date, datetime

from config.settings import Settings
from meter2cash.arguments import UsageError
from meter2cash.cis_cli import _connect, _say


def moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise UsageError("bad_moment", f"{text!r} is not an ISO 8601 time (e.g. 2026-11-10T12:00:00-05:00)") from None


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError("bad_date", f"{text!r} is not a day (YYYY-MM-DD)") from None


def cmd_meters(args, settings: Settings) -> int:
    from cis import meters

    who = args.by or getpass.getuser()
    at = moment(args.at)
    with _connect(settings) as conn:
        if args.action == "install":
            if len(args.meters) != 1 or args.premise is None or not args.service or not args.unit or not args.interval_s:
                raise UsageError("install_needs", "m2c meters install METER --premise ID --service S --unit U "
                                                  "--interval-s N --at ISO8601")
            spec = meters.MeterSpec(args.meters[0], args.service, args.unit, args.interval_s, args.power_of_ten or 0,
                                    args.register_digits, args.meter_class)
            done = meters.install(conn, spec, args.premise, at, who, args.why or "meter installed", args.read)
            return _say(args, f"meter {done.meter_no} installed at premise {args.premise} (service point "
                              f"{done.service_point_id}) from {at.isoformat()}"
                              + (f"; {done.rolled_up_days} stored days rolled up again" if done.rolled_up_days else ""),
                        done.document())
        if args.action == "exchange":
            if len(args.meters) != 2:
                raise UsageError("exchange_needs", "m2c meters exchange OLD NEW --at ISO8601")
            old_no, new_no = args.meters
            new = new_no
            if args.unit or args.interval_s or args.power_of_ten is not None:
                found = meters.spec_of(conn, old_no)
                new = meters.MeterSpec(new_no, found.service, args.unit or found.unit,
                                       args.interval_s or found.interval_s,
                                       found.power_of_ten if args.power_of_ten is None else args.power_of_ten,
                                       args.register_digits, args.meter_class)
            removed, installed = meters.exchange(conn, old_no, new, at, who, args.why or "meter exchanged",
                                                 args.removal_read, args.read)
            return _say(args, f"meter {old_no} removed and {new_no} installed at service point "
                              f"{installed.service_point_id} at {at.isoformat()}",
                        {"old": removed.document(), "new": installed.document(), "at": at.isoformat()})
        if len(args.meters) != 1:
            raise UsageError("remove_needs", "m2c meters remove METER --at ISO8601")
        done = meters.remove(conn, args.meters[0], at, who, args.why or "meter removed", args.removal_read)
        return _say(args, f"meter {done.meter_no} removed from service point {done.service_point_id} at "
                          f"{at.isoformat()}", done.document())


def cmd_service(args, settings: Settings) -> int:
    from cis import service

    who = args.by or getpass.getuser()
    on = day(args.on)
    with _connect(settings) as conn:
        if args.action == "start":
            if not args.tariff:
                raise UsageError("tariff_required", "m2c service start: give the --tariff CODE")
            attributes = dict(_attribute(a) for a in args.attribute or [])
            started = service.start(conn, service.Start(args.account, args.premise, args.service, args.tariff, on,
                                                        attributes), who, args.why or "service started")
            deposit = _deposit(conn, settings, args, started.agreement_id, who)
            return _say(args, f"service {started.agreement_id} started: {args.service} for account {args.account} at "
                              f"premise {args.premise} from {on} on {args.tariff} ({started.status})"
                              + (f"; the service point is disconnected: connect order {started.connect_order_id}"
                                 if started.connect_needed else "")
                              + f"; deposit {deposit.status}"
                              + (f" {deposit.amount_minor / 100:.2f}" if deposit.amount_minor else "")
                              + (f" ({deposit.reason})" if deposit.reason else ""),
                        {"agreement_id": started.agreement_id, "service_point_id": started.service_point_id,
                         "status": started.status, "connect_needed": started.connect_needed,
                         "connect_order_id": started.connect_order_id, "on": on.isoformat(),
                         "deposit": deposit.document()})
        read = _final_read(conn, args, on)
        if args.action == "stop":
            with conn.transaction():
                stopped = service.stop(conn, args.account, args.premise, args.service, on, who,
                                       args.why or "service stopped", read and read.document())
                _enter(conn, read, who, args.why or "final read at the stop")
            return _say(args, f"service {stopped.agreement_id} stopped: last day served {stopped.last_day}; its final "
                              f"bill is issued by m2c bills final once the reads are in" + _read_line(read),
                        {"agreement_id": stopped.agreement_id, "service_point_id": stopped.service_point_id,
                         "last_day": stopped.last_day.isoformat(), "on": on.isoformat(),
                         "final_read": read and read.document()})
        if args.to_premise is None:
            raise UsageError("to_premise_required", "m2c service transfer: give the --to-premise ID")
        with conn.transaction():
            stopped, started = service.transfer(conn, args.account, args.premise, args.to_premise, args.service, on,
                                                who, args.why or "service transferred", args.tariff,
                                                final_read=read and read.document())
            _enter(conn, read, who, args.why or "final read at the move")
        return _say(args, f"account {args.account}: {args.service} at premise {args.premise} stopped (agreement "
                          f"{stopped.agreement_id}, last day {stopped.last_day}) and started at premise "
                          f"{args.to_premise} (agreement {started.agreement_id}) from {on}" + _read_line(read),
                    {"stopped_agreement_id": stopped.agreement_id, "agreement_id": started.agreement_id,
                     "last_day": stopped.last_day.isoformat(), "on": on.isoformat(), "status": started.status,
                     "final_read": read and read.document()})


def _final_read(conn, args, on: date):
    """The stop's final register read (``--final-read``), checked before anything is recorded: a read
    the meter cannot have refuses the stop."""
    if args.final_read is None or args.action == "start":
        return None
    from vee import register_entry

    return register_entry.final_read(conn, args.premise, args.service, on, args.final_read)


def _enter(conn, read, who: str, why: str) -> None:
    if read is not None:
        from vee import register_entry

        register_entry.enter(conn, read, who, why)


def _read_line(read) -> str:
    if read is None:
        return ""
    return (f"; final read of meter {read.meter_no} stored" + (f", {len(read.days)} day(s) since the read before "
                                                                f"billed from it" if read.days else ""))

def _deposit(conn, settings: Settings, args, agreement_id: int, who: str):
    from datetime import timezone

    from billing.deposits import charge_deposit
    from billing.entities import configured_entities

    return charge_deposit(conn, args.account, agreement_id, args.service, configured_entities(settings), who,
                          args.why or "service started", datetime.now(timezone.utc), waive=args.waive_deposit)


def cmd_deposits(args, settings: Settings) -> int:
    from datetime import timezone

    from billing.deposits import review
    from billing.entities import configured_entities

    now = datetime.combine(day(args.date), datetime.min.time(), timezone.utc) if args.date else \
        datetime.now(timezone.utc)
    with _connect(settings) as conn:
        credited = review(conn, configured_entities(settings), now)
    return _say(args, f"{len(credited)} deposits credited back after months paid on time "
                      f"({sum(c[2] for c in credited) / 100:.2f})",
                {"credited": [{"deposit_id": d, "account_id": a, "amount_minor": m} for d, a, m in credited]})


def _attribute(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError("bad_attribute", f"{text!r}: a rate attribute is NAME=VALUE (e.g. meter_size=1in)")
    return name, value


def cmd_final_bills(args, settings: Settings) -> int:
    from billing.final_bills import BILLED, issue_final_bills
    from billing.entities import configured_entities
    from storage.tariffs import current_tariffs

    with _connect(settings) as conn:
        outcomes = issue_final_bills(conn, current_tariffs(conn), configured_entities(settings),
                                     requested_by=args.by or getpass.getuser())
    body = {"final_bills": [o.document() for o in outcomes],
            "issued": sum(o.status == BILLED for o in outcomes),
            "waiting": sum(o.status == "waiting" for o in outcomes)}
    if args.json:
        print(json.dumps(body))
        return 0
    for o in outcomes:
        print(f"account {o.account_no} agreement {o.agreement_id} ({o.first_day} to {o.end_day}): {o.status}"
              + (f" bill {o.bill_id}, charges {o.charges_minor / 100:.2f}" if o.bill_id else "")
              + (f" ({o.reason})" if o.reason else ""))
    print(f"{body['issued']} final bills issued, {body['waiting']} waiting")
    return 0


def register(sub) -> None:
    p = sub.add_parser("meters", help="install, exchange or remove a meter at a premise")
    p.add_argument("action", choices=["install", "exchange", "remove"])
    p.add_argument("meters", nargs="+", metavar="METER", help="install/remove: METER; exchange: OLD NEW")
    p.add_argument("--premise", type=int, help="premise id (install)")
    p.add_argument("--service", choices=["electric", "water", "gas"])
    p.add_argument("--unit", help="Wh; gal or ft3; ft3")
    p.add_argument("--interval-s", type=int, help="interval length in seconds")
    p.add_argument("--power-of-ten", type=int, help="stored value x 10^K = quantity in the unit (default 0)")
    p.add_argument("--register-digits", type=int)
    p.add_argument("--meter-class")
    p.add_argument("--at", required=True, help="when, ISO 8601 with its UTC offset")
    p.add_argument("--read", type=int, help="the register read at install")
    p.add_argument("--removal-read", type=int, help="the register read at removal")
    p.add_argument("--why", help="why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_meters)

    p = sub.add_parser("service", help="start, stop or transfer an account's service at a premise")
    p.add_argument("action", choices=["start", "stop", "transfer"])
    p.add_argument("--account", required=True, help="account number")
    p.add_argument("--premise", type=int, required=True, help="premise id (transfer: the one left)")
    p.add_argument("--to-premise", type=int, help="transfer: the premise moved to")
    p.add_argument("--service", required=True, choices=["electric", "water", "gas"])
    p.add_argument("--tariff", help="tariff code (start; transfer: default the old agreement's)")
    p.add_argument("--on", required=True, help="start: first day served; stop: first day no longer served")
    p.add_argument("--attribute", action="append", metavar="NAME=VALUE", help="a rate attribute (repeatable)")
    p.add_argument("--waive-deposit", metavar="REASON", help="start: waive the deposit the entity asks, with why")
    p.add_argument("--final-read", metavar="VALUE",
                   help="stop, transfer: the meter's register at the end of the last day served, in its unit "
                        "(a meter read by hand is billed to here)")
    p.add_argument("--why", help="why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_service)

    p = sub.add_parser("deposits", help="credit back the deposits held for the entity's months of on-time payment")
    p.add_argument("action", choices=["review"])
    p.add_argument("--date", help="as of this day (default: now), YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_deposits)
