"""``m2c orders list|show|create|approve|schedule|dispatch|complete|fail|cancel``: service orders (field
work), and ``m2c orders protect`` for a customer's certified medical need. Each prints for people, or
one JSON object with ``--json``; who (``--by``, default your login) and why (``--why``) are recorded."""
from __future__ import annotations

import getpass
from datetime import date, datetime, timezone

from config.settings import Settings
from meter2cash.arguments import UsageError
from meter2cash.cis_cli import _connect, _say
from meter2cash.lifecycle_cli import day, moment

ACTIONS = ("list", "show", "create", "approve", "schedule", "dispatch", "complete", "fail", "cancel", "protect")


def _line(order) -> str:
    return (f"{order.id:>6} {order.kind:<15} {order.status:<17} due {order.due_on}  {order.service:<8} "
            f"premise {order.premise_id} ({order.address})  account {order.account_no or '-'}")


def cmd_orders(args, settings: Settings) -> int:
    from cis import orders

    today = date.today()
    who = args.by or getpass.getuser()
    with _connect(settings) as conn:
        if args.action == "list":
            total, found = orders.listing(conn, status=args.status or None, kind=args.kind, account_no=args.account,
                                          overdue_on=today if args.overdue else None, limit=args.limit,
                                          offset=args.offset)
            text = "\n".join([_line(o) for o in found] + [f"{len(found)} of {total} orders"])
            return _say(args, text, {"total": total, "orders": [o.document(today) for o in found]})
        if args.action == "protect":
            if not args.account:
                raise UsageError("account_required", "m2c orders protect: give the --account NO")
            until = None if args.until in (None, "none") else day(args.until)
            orders.protect(conn, args.account, until, who, args.why or "")
            return _say(args, f"account {args.account}: " + (f"medical need certified until {until}; no disconnection "
                                                              f"for non-payment is ordered until then" if until
                                                              else "medical need certificate ended"),
                        {"account_no": args.account, "medical_need_until": until.isoformat() if until else None})
        if args.action == "create":
            if args.premise is None or args.kind is None:
                raise UsageError("create_needs", "m2c orders create --kind KIND --premise ID --service S --why TEXT")
            order = orders.create(conn, args.kind, args.premise, args.service, who, args.why or "", today=today,
                                  account_no=args.account, due_on=day(args.due) if args.due else None,
                                  details={"new_meter": args.new_meter} if args.new_meter else None)
            return _say(args, f"order {order.id} ({order.kind}) {order.status}, due {order.due_on}",
                        order.document(today))
        if args.order is None:
            raise UsageError("order_required", f"m2c orders {args.action} ORDER")
        if args.action == "show":
            order = orders.get(conn, args.order)
            history = orders.history(conn, args.order)
            lines = [_line(order), f"  why: {order.reason} (by {order.created_by}, {order.source})"]
            lines += [f"  {h['at']}  {h['status']:<17} {h['actor']}: {h['reason']}" for h in history]
            return _say(args, "\n".join(lines), {**order.document(today), "history": history})
        return _act(conn, settings, args, who, today)


def _act(conn, settings: Settings, args, who: str, today: date) -> int:
    from billing.order_effects import act

    if not args.why:
        raise UsageError("why_required", f"m2c orders {args.action}: say why with --why")
    if args.action == "schedule" and not args.on:
        raise UsageError("day_required", "m2c orders schedule ORDER --on DAY")
    completion = None
    if args.action in ("complete", "fail"):
        completion = {k: v for k, v in (("notes", args.notes), ("read", args.read), ("removal_read", args.removal_read),
                                        ("install_read", args.install_read)) if v is not None}
    order, refreshed = act(conn, args.order, args.action, who, args.why, settings.redis_url,
                           at=moment(args.at) if args.at else datetime.now(timezone.utc),
                           day=day(args.on) if args.on else None, completion=completion)
    return _say(args, f"order {order.id} ({order.kind}) {order.status}"
                      + (f"; service point {order.service_point_id} {order.point_state}" if order.status == "completed"
                         else "") + ("" if refreshed else "; the running estimate was not refreshed (Redis)"),
                {**order.document(today), "estimate_refreshed": refreshed})


def register(sub) -> None:
    from cis.orders import KINDS, STATUSES

    p = sub.add_parser("orders", help="service orders: connect, disconnect, reconnect, exchange, investigate, read")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("order", nargs="?", type=int, help="the order's id")
    p.add_argument("--status", action="append", choices=STATUSES, help="list: only these (repeatable)")
    p.add_argument("--kind", choices=KINDS, help="list: only this kind; create: the kind")
    p.add_argument("--account", help="list: one account's; create: the account it is for; protect: the account")
    p.add_argument("--overdue", action="store_true", help="list: only those in progress past their due day")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--premise", type=int, help="create: the premise")
    p.add_argument("--service", choices=["electric", "water", "gas"], default="electric", help="create: the service")
    p.add_argument("--due", help="create: the due day (default: by kind)")
    p.add_argument("--new-meter", help="create a meter_exchange: the new meter's number")
    p.add_argument("--on", help="schedule: the day the field does it")
    p.add_argument("--at", help="complete: when it was done, ISO 8601 (default: now)")
    p.add_argument("--read", help="complete: the register read taken, in the meter's unit")
    p.add_argument("--removal-read", type=int, help="complete an exchange: the old meter's register")
    p.add_argument("--install-read", type=int, help="complete an exchange: the new meter's register")
    p.add_argument("--notes", help="complete, fail: what the field found")
    p.add_argument("--until", help="protect: the day the medical need is certified to ('none' ends it)")
    p.add_argument("--why", help="why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_orders)
