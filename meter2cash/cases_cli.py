"""``m2c contacts log|list`` and ``m2c cases open|list|show|update|close|confirm``: the customer contacts logged on
an account and the cases that need follow-up. Each prints for people, or one JSON object with
``--json``; who (``--by``, default your login) is recorded."""
from __future__ import annotations

import getpass
from datetime import date

from config.settings import Settings
from meter2cash.arguments import UsageError
from meter2cash.cis_cli import _connect, _say
from meter2cash.lifecycle_cli import day


def _links(args) -> list[tuple[str, int]]:
    return [("bill", b) for b in args.bill or []] + [("order", o) for o in args.order or []] + \
        [("exception", e) for e in args.exception or []]


def cmd_contacts(args, settings: Settings) -> int:
    from cis import cases

    with _connect(settings) as conn:
        if args.action == "log":
            contact_id = cases.log_contact(conn, args.account, args.channel, args.reason, args.notes or "",
                                           args.by or getpass.getuser(), args.case)
            return _say(args, f"contact {contact_id} logged on account {args.account}",
                        {"contact_id": contact_id, "account_no": args.account})
        total, found = cases.contacts(conn, args.account, args.limit, args.offset)
        lines = [f"{c['at'][:16]}  {c['channel']:<8} {c['reason']:<17} {c['actor']:<12} {c['notes']}" for c in found]
        return _say(args, "\n".join(lines + [f"{len(found)} of {total} contacts"]), {"total": total, "contacts": found})


def _line(case) -> str:
    return (f"{case.id:>6} {case.kind:<16} {case.status:<17} due {case.due_on}  account {case.account_no}  "
            f"owner {case.owner or '-'}  {case.summary}")


def cmd_cases(args, settings: Settings) -> int:
    from cis import cases

    today = date.today()
    who = args.by or getpass.getuser()
    with _connect(settings) as conn:
        if args.action == "open":
            if not (args.account and args.kind and args.summary):
                raise UsageError("open_needs", "m2c cases open --account NO --kind KIND --summary TEXT")
            case = cases.open_case(conn, args.account, args.kind, args.summary, who, today=today, owner=args.owner,
                                   due_on=day(args.due) if args.due else None, links=_links(args),
                                   channel=args.channel)
            return _say(args, f"case {case.id} ({case.kind}) opened on account {case.account_no}, due {case.due_on}",
                        case.document(today))
        if args.action == "list":
            total, found = cases.listing(conn, status=args.status or ["open", "in_progress", "waiting_customer"],
                                         owner=args.owner, account_no=args.account, kind=args.kind,
                                         overdue_on=today if args.overdue else None, limit=args.limit,
                                         offset=args.offset)
            return _say(args, "\n".join([_line(c) for c in found] + [f"{len(found)} of {total} cases"]),
                        {"total": total, "cases": [c.document(today) for c in found]})
        if args.case is None:
            raise UsageError("case_required", f"m2c cases {args.action} CASE")
        if args.action == "show":
            case, events = cases.get(conn, args.case), cases.history(conn, args.case)
            lines = [_line(case)] + [f"  {e['at'][:16]}  {e['change']:<8} {e['actor']}: {e['reason']}" for e in events]
            return _say(args, "\n".join(lines), {**case.document(today), "history": events})
        if args.action == "confirm":
            from datetime import datetime, timezone

            from billing.deposits import charging_deposits
            from billing.entities import configured_entities
            from cis.service_requests import confirm

            if not args.why:
                raise UsageError("why_required", "m2c cases confirm CASE --why TEXT")
            done = confirm(conn, args.case, who, args.why, args.tariff,
                           on_start=charging_deposits(conn, configured_entities(settings), who, args.why,
                                                      datetime.now(timezone.utc)))
            return _say(args, f"case {args.case}: the request is carried out and the case closed ({done})",
                        {"case_id": args.case, "done": done})
        if args.action == "close":
            if not args.resolution:
                raise UsageError("resolution_required", "m2c cases close CASE --resolution TEXT")
            case = cases.close_case(conn, args.case, args.resolution, who)
            return _say(args, f"case {case.id} closed; the customer is told by their bill-delivery channel",
                        case.document(today))
        if not args.why:
            raise UsageError("why_required", "m2c cases update: say why with --why (a note alone is fine)")
        case = cases.update_case(conn, args.case, who, args.why, owner=args.owner, status=args.set_status,
                                 due_on=day(args.due) if args.due else None, links=_links(args), today=today)
        return _say(args, f"case {case.id}: {case.status}, owner {case.owner or '-'}, due {case.due_on}",
                    case.document(today))


def register(sub) -> None:
    from cis.cases import CHANNELS, KINDS, REASONS, STATUSES

    p = sub.add_parser("contacts", help="log a customer contact on an account, or list an account's contacts")
    p.add_argument("action", choices=["log", "list"])
    p.add_argument("--account", required=True, help="account number")
    p.add_argument("--channel", choices=CHANNELS, default="phone")
    p.add_argument("--reason", choices=REASONS, default="other")
    p.add_argument("--notes", help="what was said and done")
    p.add_argument("--case", type=int, help="the case it belongs to")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_contacts)

    p = sub.add_parser("cases", help="customer cases that need follow-up: open, list, show, update, close")
    p.add_argument("action", choices=["open", "list", "show", "update", "close", "confirm"])
    p.add_argument("case", nargs="?", type=int, help="the case's id")
    p.add_argument("--account", help="open: the account; list: one account's")
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--summary", help="open: what it is about")
    p.add_argument("--channel", choices=CHANNELS, help="open: the contact that raised it (logged with it)")
    p.add_argument("--owner", help="open, update: who follows it up; list: theirs only")
    p.add_argument("--due", help="open, update: the due day")
    p.add_argument("--status", action="append", choices=STATUSES, help="list: only these (default: not closed)")
    p.add_argument("--set-status", choices=STATUSES[:-1], help="update: the new status")
    p.add_argument("--bill", type=int, action="append", help="open, update: link a bill (repeatable)")
    p.add_argument("--order", type=int, action="append", help="open, update: link a service order")
    p.add_argument("--exception", type=int, action="append", help="open, update: link a VEE exception")
    p.add_argument("--overdue", action="store_true", help="list: only those past their due day")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--resolution", help="close: what was done (the customer is told)")
    p.add_argument("--tariff", help="confirm a move: the new premise's tariff (default the same)")
    p.add_argument("--why", help="update: why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_cases)
