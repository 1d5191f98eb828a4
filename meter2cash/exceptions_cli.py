"""``m2c exceptions ...``: the VEE exception queue for billing staff."""
from __future__ import annotations

import getpass
import sys

from config.settings import Settings


def _connect(settings: Settings):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=True)


def cmd_exceptions(args, settings: Settings) -> int:
    from storage import vee_queue as queue
    from vee import queue as actions

    with _connect(settings) as conn:
        if args.action == "list":
            rows = queue.list_exceptions(conn, None if args.status == "all" else args.status, args.rule,
                                         args.severity, args.account, args.meter, args.limit)
            print(f"{'id':>7} {'status':<10} {'severity':<15} {'meter':<12} {'account':<10} {'block start (UTC)':<17} "
                  f"{'reads':>5}  rules")
            for row in rows:
                print(f"{row.id:>7} {row.status:<10} {row.severity:<15} {row.meter_no:<12} {row.account_no or '-':<10} "
                      f"{row.block_start:%Y-%m-%d %H:%M} {row.flagged_count:>5}  {', '.join(row.rules)}")
            return 0
        if not args.ids:
            print(f"error: ids_required: m2c exceptions {args.action} ID ...", file=sys.stderr)
            return 2
        if args.action == "show":
            row = queue.get_exception(conn, args.ids[0])
            if row is None:
                print(f"error: no_such_exception: no exception {args.ids[0]}", file=sys.stderr)
                return 2
            print(f"exception {row.id}: {row.status}, {row.severity}, rules {', '.join(row.rules)}")
            print(f"meter {row.meter_no} channel {row.channel} account {row.account_no or '-'}; "
                  f"block from {row.block_start:%Y-%m-%d %H:%M} UTC, {row.interval_s} s intervals")
            for position, (value, flags) in enumerate(zip(row.values, row.flags)):
                if flags:
                    from vee.rules import rule_codes

                    print(f"  position {position:>4}: value {value:>10}  {', '.join(rule_codes(flags))}")
            for action, actor, reason, details, acted_at in queue.history(conn, row.id):
                print(f"  {acted_at:%Y-%m-%d %H:%M} {action} by {actor}: {reason} {details or ''}")
            return 0
        actor = args.by or getpass.getuser()
        if not args.why:
            print("error: why_required: say why with --why", file=sys.stderr)
            return 2
        try:
            if args.action == "reestimate":
                from vee.gap_fill import reestimate_exception

                done = reestimate_exception(conn, args.ids[0], actor, args.why)
                print(f"exception {args.ids[0]}: estimated " + ", ".join(f"{n} {m}" for m, n in done.items() if n))
            elif args.action == "override":
                edits = {}
                for pair in args.set or []:
                    position, _, value = pair.partition("=")
                    if not (position.strip().isdigit() and value.strip().lstrip("-").isdigit()):
                        raise actions.ExceptionActionRefused(f"--set takes POSITION=VALUE (integers), got {pair!r}")
                    edits[int(position)] = int(value)
                written = actions.override(conn, args.ids[0], edits, actor, args.why)
                print(f"exception {args.ids[0]}: {written} read(s) edited and stored")
            else:
                moved = actions.act(conn, args.ids, args.action, actor, args.why)
                print(f"{moved} of {len(args.ids)} exception(s) {actions.STATUS_AFTER[args.action]}")
                if moved < len(args.ids):
                    print(f"error: not_open: {len(args.ids) - moved} of the exceptions given do not exist or are "
                          "not open (see m2c exceptions list --status all)", file=sys.stderr)
                    return 2
        except actions.ExceptionActionRefused as error:
            print(f"error: {error.code}: {error}", file=sys.stderr)
            return 2
    return 0


def register(sub) -> None:
    p = sub.add_parser("exceptions",
                       help="the VEE exception queue: list, show, accept, release, override, reestimate, reopen")
    p.add_argument("action", choices=["list", "show", "accept", "release", "override", "reestimate", "reopen"])
    p.add_argument("ids", nargs="*", type=int)
    p.add_argument("--status", default="open", help="open, accepted, released, overridden, estimated or all")
    p.add_argument("--rule")
    p.add_argument("--severity", choices=["information", "issue", "blocks_billing"])
    p.add_argument("--account")
    p.add_argument("--meter")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--set", action="append", help="override: POSITION=VALUE in the meter's stored unit")
    p.add_argument("--by", help="who acts (default: the login name)")
    p.add_argument("--why", help="why (required for every action)")
    p.set_defaults(func=cmd_exceptions)
