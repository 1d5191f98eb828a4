"""``m2c accounts`` and ``m2c premises``: open an account, add a premise. Each prints for people, or one
JSON object with ``--json``; who (``--by``, default your login) and why (``--why``) are recorded."""
from __future__ import annotations

import getpass
import json

from config.settings import Settings
from meter2cash.arguments import UsageError


def _connect(settings: Settings):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=True)


def _say(args, text: str, body: dict) -> int:
    print(json.dumps(body) if args.json else text)
    return 0


def cmd_accounts(args, settings: Settings) -> int:
    from cis.accounts import NewAccount, open_account

    if args.customer is None and not args.name:
        raise UsageError("name_required", "m2c accounts open: give the customer's --name (or --customer ID)")
    new = NewAccount(cycle=args.cycle, name=args.name, customer_id=args.customer, kind=args.kind, email=args.email,
                     phone=args.phone, mailing_address=args.mailing_address, delivery=args.delivery,
                     paperless=args.paperless, billing_entity=args.entity)
    with _connect(settings) as conn:
        opened = open_account(conn, new, args.by or getpass.getuser(), args.why)
    return _say(args, f"account {opened.account_no} opened for customer {opened.customer_id} on cycle {args.cycle}",
                {"account_no": opened.account_no, "account_id": opened.account_id, "customer_id": opened.customer_id,
                 "cycle": args.cycle, "delivery": args.delivery, "paperless": args.paperless})


def cmd_premises(args, settings: Settings) -> int:
    from cis.premises import add_premise

    zone = args.zone or settings.utility_zone
    with _connect(settings) as conn:
        premise_id = add_premise(conn, args.address, zone, args.by or getpass.getuser(), args.why)
    return _say(args, f"premise {premise_id} added: {args.address} ({zone})",
                {"premise_id": premise_id, "address": " ".join(args.address.split()), "zone": zone})


def register(sub) -> None:
    p = sub.add_parser("accounts", help="open an account for a new or an existing customer")
    p.add_argument("action", choices=["open"])
    p.add_argument("--name", help="the new customer's name (person or business)")
    p.add_argument("--customer", type=int, help="open the account for this existing customer id instead")
    p.add_argument("--kind", choices=["person", "business"], default="person")
    p.add_argument("--cycle", required=True, help="billing cycle code (see m2c cycles list)")
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument("--mailing-address")
    p.add_argument("--delivery", choices=["print", "email", "portal"], default="print")
    p.add_argument("--paperless", action="store_true", help="no paper bills (delivery by e-mail or portal)")
    p.add_argument("--entity", default="default", help="billing entity (service area) that bills it")
    p.add_argument("--why", default="new account", help="why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_accounts)

    p = sub.add_parser("premises", help="add a premise (a service address)")
    p.add_argument("action", choices=["add"])
    p.add_argument("--address", required=True)
    p.add_argument("--zone", help="IANA time zone (default: the utility's, M2C_UTILITY_ZONE)")
    p.add_argument("--why", default="new premise", help="why (recorded)")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_premises)
