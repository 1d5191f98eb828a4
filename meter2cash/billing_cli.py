"""``m2c account|bills|payments|ledger|collections|arrangements ...``: the billing cycle and accounts
receivable for billing staff."""
from __future__ import annotations

import getpass
import json
import sys
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from meter2cash.arguments import UsageError, day
from config.settings import Settings
from billing.entities import configured_entities
from billing.delivery import configured_delivery
from storage import accounts
from storage.bills import open_corrections, unmatched_payments


def _connect(settings: Settings):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _money(minor: int, currency: str) -> str:
    from rating.money import format_minor

    return f"{format_minor(minor, currency)} {currency}"


def _account_id(conn, reference: str) -> int:
    from billing.postings import account_id_of

    return account_id_of(conn, reference)


def _fail(code: str, message: str, status: int = 2) -> int:
    """One line with a code: exit 2 for the caller's mistake (the default), 1 for an outcome to look at."""
    print(f"error: {code}: {message}", file=sys.stderr)
    return status


def cmd_account(args, settings: Settings) -> int:
    from billing.postings import account_receivable

    if args.action == "budget":
        return _budget(args, settings)
    with _connect(settings) as conn:
        row = accounts.account_header(conn, args.account)
        if row is None:
            return _fail("no_such_account", f"no account {args.account}")
        account_id, account_no, name, currency, entity, channel, email, cycle, budget, _, _ = row
        receivable = account_receivable(conn, account_id)
        if args.json:
            from meter2cash.account_json import account_document

            print(json.dumps(account_document(conn, row, receivable)))
            return 0
        print(f"account {account_no}: {name}; cycle {cycle}; entity {entity}; delivery {channel}"
              f"{' to ' + email if email else ''}{'; budget ' + _money(budget, currency) if budget else ''}")
        print(f"balance {_money(receivable.balance_minor, currency)}"
              f"{'; credit ' + _money(receivable.credit_minor, currency) if receivable.credit_minor else ''}")
        print("services:")
        for service, address, tariff, meters in accounts.account_services(conn, account_id):
            print(f"  {service:<9} {tariff or '-':<8} meters {meters or '-':<12} at {address}")
        print("bills:")
        for bill in accounts.account_bills(conn, account_id):
            (bill_id, start, end, status, kind, charges, due, due_date, delivered, via, estimated) = bill
            print(f"  {bill_id:>7} {start}..{end} {status:<9} {kind:<7} charges {_money(charges, currency):>14} "
                  f"due {_money(due, currency):>14} by {due_date or '-'}"
                  f"{' delivered ' + f'{delivered:%Y-%m-%d} by {via}' if delivered else ' not delivered'}"
                  f"{' ESTIMATED' if estimated else ''}")
        print("open items:")
        for item in receivable.open_items():
            print(f"  {item.entry_type:<15} {('bill ' + str(item.bill_id)) if item.bill_id else '':<12} "
                  f"{_money(item.amount_minor, currency):>14} open {_money(item.open_minor, currency):>14}")
        print("payments:")
        for payment in accounts.account_payments(conn, account_id):
            pid, received, amount, method, reference, status, returned = payment
            print(f"  {pid:>7} {received} {_money(amount, currency):>14} {method:<6} {reference:<20} {status}"
                  f"{' (' + returned + ')' if returned else ''}")
        print("notices:")
        for notice in accounts.account_notices(conn, account_id):
            nid, created, kind, subject, delivered = notice
            print(f"  {nid:>7} {created:%Y-%m-%d} {kind:<20} {subject}{'' if delivered else ' (not delivered)'}")
        arrangement = accounts.latest_arrangement(conn, account_id)
        if arrangement:
            print(f"payment arrangement {arrangement[0]}: {arrangement[1]}, {_money(arrangement[2], currency)} "
                  f"from {arrangement[3]}")
    return 0


def _budget(args, settings: Settings) -> int:
    """Levelized billing on (a monthly amount from a date) or off; a change is trued up by the next bills."""
    from billing.postings import to_minor_exact

    with _connect(settings) as conn:
        if args.off:
            changed = accounts.set_budget(conn, args.account, None, None)
        else:
            if not args.amount or not args.start:
                return _fail("bad_budget", "give --amount and --from (or --off)")
            amount = to_minor_exact(_amount(args.amount), settings.currency)
            if amount <= 0:
                return _fail("bad_budget", "a budget amount is positive")
            changed = accounts.set_budget(conn, args.account, amount, date.fromisoformat(args.start))
    if not changed:
        return _fail("no_such_account", f"no account {args.account}")
    print(f"account {args.account}: budget billing " + ("off" if args.off else f"{args.amount} from {args.start}"))
    return 0


def cmd_bills(args, settings: Settings) -> int:
    from billing.errors import BillingError

    if args.action == "final":
        from meter2cash.lifecycle_cli import cmd_final_bills

        return cmd_final_bills(args, settings)

    with _connect(settings) as conn:
        try:
            if args.action == "show":
                return _show_bill(conn, settings, args)
            if args.action == "corrections":
                from billing.corrections import raise_corrections

                raised = raise_corrections(conn)
                rows = open_corrections(conn)
                for bill_id, account_no, billed, now, billed_reads, now_reads, detected in rows:
                    print(f"bill {bill_id:>7} account {account_no}: billed {billed} from {billed_reads} reads, now {now} "
                          f"from {now_reads} reads (since {detected:%Y-%m-%d}): cancel/rebill")
                print(f"{len(rows)} open corrections ({raised} new)")
                return 0
            if args.action == "deliver":
                from billing.delivery import deliver_pending

                summary = deliver_pending(conn, configured_entities(settings), configured_delivery(settings), _now())
                print(f"delivered: {summary.printed} printed, {summary.emailed} emailed, {summary.portal} to the "
                      f"portal; {summary.failed} failed")
                if summary.print_batch:
                    print(f"print batch {summary.print_batch} (manifest {summary.manifest})")
                for error in summary.errors[:20]:
                    print(f"  {error}")
                return 0 if not summary.failed else 1
            actor = args.by or getpass.getuser()
            if not args.why:
                return _fail("why_required", "say why with --why")
            if args.action == "cancel":
                from billing.corrections import cancel_bill

                cancel_bill(conn, args.bill, actor, args.why, _now())
                print(f"bill {args.bill} cancelled; its reversal is posted")
                return 0
            if args.action == "rebill":
                from billing.rebill import rebill
                from storage.tariffs import current_tariffs

                done = rebill(conn, args.bill, current_tariffs(conn), configured_entities(settings), actor, args.why,
                              _now())
                if done.nothing_left:  # its agreements all stopped in the period: their final bills take the days
                    print(f"bill {args.bill} cancelled; nothing else of the account to bill in its period "
                          f"(the final bill takes the days served: m2c bills final)")
                    return 0
                if done.rebill_id is None:
                    return _fail("rebill_held", f"bill {args.bill} cancelled; the rebill was not issued: {done.held}",
                                 1)
                print(f"bill {args.bill} cancelled; rebill {done.rebill_id} issued")
                return 0
        except BillingError as error:
            return _fail(error.code, str(error))
    return 2


def _show_bill(conn, settings: Settings, args) -> int:
    from billing.render import bill_document, render_html, render_pdf

    document = bill_document(conn, args.bill, configured_entities(settings))
    bill = document.context["bill"]
    currency = bill["currency"]
    print(f"bill {bill['id']} ({bill['kind']}, {bill['status']}) account {document.account_no} "
          f"{document.customer_name}; period {bill['period_start']}..{bill['period_last_day']} {bill['zone']}; "
          f"entity {document.entity.code}{'; ESTIMATED' if bill['estimated'] else ''}")
    for service in document.context["services"]:
        print(f"  {service['service']} on {service['tariff_version']}: usage {service['usage_text']}")
        for line in service["lines"]:
            print(f"    {line['description']:<44} {line['quantity']:>14} {line['unit']:<6} "
                  f"{_money(line['amount_minor'], currency):>14}")
    for label, key in (("previous balance", "previous_balance_minor"), ("payments", "payments_minor"),
                       ("adjustments", "adjustments_minor"), ("fees", "fees_minor"),
                       ("current charges", "total_minor"), ("budget billing", "budget_minor"),
                       ("total due", "total_due_minor")):
        print(f"  {label:<20} {_money(bill[key], currency):>16}")
    print(f"  due date {bill['due_date'] or '(set at delivery)'}; delivered "
          f"{bill['delivered_at'] or 'not yet'}")
    if args.html:
        Path(args.html).write_text(render_html(document))
        print(f"wrote {args.html}")
    if args.pdf:
        Path(args.pdf).write_bytes(render_pdf(document))
        print(f"wrote {args.pdf}")
    return 0


def _amount(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise UsageError("bad_amount", f"not an amount: {text!r}") from None


def cmd_payments(args, settings: Settings) -> int:
    from billing.errors import BillingError
    from billing.payments import PaymentIn, match_payment, receive_payment, refund, return_payment

    with _connect(settings) as conn:
        try:
            if args.action == "post":
                outcome = receive_payment(conn, PaymentIn(
                    "cli", args.reference, _amount(args.amount), date.fromisoformat(args.date) if args.date
                    else date.today(), args.account, args.invoice, args.method, settings.currency), _now(),
                    configured_entities(settings))
                print(f"payment {outcome.payment_id}: {outcome.status}"
                      f"{' (' + outcome.reason + ')' if outcome.reason else ''}")
                return 0
            if args.action == "import":
                return _import(conn, args.file, settings.currency, configured_entities(settings))
            if args.action == "exceptions":
                rows = unmatched_payments(conn)
                for pid, received, amount, currency, channel, reference, account, invoice, reason in rows:
                    print(f"{pid:>7} {received} {_money(amount, currency):>14} {channel:<8} {reference:<20} "
                          f"account {account or '-':<10} invoice {invoice or '-':<8} {reason}")
                print(f"{len(rows)} unmatched payments")
                return 0
            actor = args.by or getpass.getuser()
            if not args.why:
                return _fail("why_required", "say why with --why")
            if args.action == "match":
                match_payment(conn, args.payment, _account_id(conn, args.account), actor, args.why, _now(),
                              configured_entities(settings))
                print(f"payment {args.payment} applied to account {args.account}")
                return 0
            if args.action == "refund":
                from billing.postings import to_minor_exact

                refund(conn, _account_id(conn, args.account), to_minor_exact(_amount(args.amount), settings.currency),
                       actor, args.why, _now())
                print(f"refunded {args.amount} to account {args.account}")
                return 0
            if args.action == "return":
                fee = return_payment(conn, args.payment, actor, args.why, _now(), configured_entities(settings))
                print(f"payment {args.payment} returned; fee {_money(fee, settings.currency)}")
                return 0
        except BillingError as error:
            return _fail(error.code, str(error))
    return 2


def _import(conn, file: str, currency: str, entities) -> int:
    from billing.lockbox import import_lockbox
    from meter2cash.progress import ProgressBar

    bar = ProgressBar("payments")
    summary = import_lockbox(conn, Path(file).read_text(), Path(file).name, _now(), progress=bar.update,
                             currency=currency, entities=entities)
    bar.close()
    print(f"{file}: {summary.lines} payments read; {summary.applied} applied "
          f"({_money(summary.applied_minor, currency)}), {summary.unmatched} to the payment-exception queue, "
          f"{summary.duplicates} taken before; {len(summary.errors)} lines rejected")
    for line, message in summary.errors:
        print(f"  line {line}: {message}")
    return 0 if not summary.errors else 1


def cmd_ledger(args, settings: Settings) -> int:
    from billing.postings import adjust
    from storage.ledger_entries import trial_balance, unbalanced_transactions

    with _connect(settings) as conn:
        if args.action == "adjust":
            from billing.errors import BillingError
            from billing.postings import to_minor_exact

            if not args.why:
                return _fail("why_required", "say why with --why")
            try:
                adjust(conn, _account_id(conn, args.account), to_minor_exact(_amount(args.amount), settings.currency),
                       args.why, args.by or getpass.getuser(), _now())
            except BillingError as error:
                return _fail(error.code, str(error))
            print(f"adjusted account {args.account} by {args.amount}")
            return 0
        rows = trial_balance(conn)
        print(f"{'ledger account':<24} {'debits':>18} {'credits':>18} {'balance':>18}")
        for account, debits, credits in rows:
            print(f"{account:<24} {_money(debits, settings.currency):>18} {_money(credits, settings.currency):>18} "
                  f"{_money(debits - credits, settings.currency):>18}")
        total_debits, total_credits = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"{'total':<24} {_money(total_debits, settings.currency):>18} "
              f"{_money(total_credits, settings.currency):>18}")
        unbalanced = unbalanced_transactions(conn)
        if total_debits != total_credits or unbalanced:
            print(f"OUT OF BALANCE: {len(unbalanced)} transactions do not sum to zero: {unbalanced[:20]}")
            return 1
        print("debits equal credits; every transaction sums to zero")
    return 0


def cmd_collections(args, settings: Settings) -> int:
    from billing.dunning import run_collections

    today = date.fromisoformat(args.date) if args.date else date.today()
    with _connect(settings) as conn:
        summary = run_collections(conn, configured_entities(settings), today, _now())
    print(f"collections on {today}: {summary.accounts_checked} accounts checked; {summary.late_fees} late fees "
          f"({_money(summary.late_fees_minor, settings.currency)}), {summary.reminders} reminders, "
          f"{summary.final_notices} final notices, {summary.disconnect_eligible} disconnect-eligible services "
          f"({summary.disconnects_ordered} disconnects ordered for approval, {summary.disconnects_withheld} withheld "
          f"for protected customers); {summary.paused_by_arrangement} paused by arrangements "
          f"({summary.arrangements_broken} broken, {summary.arrangements_completed} completed); "
          f"{summary.held_by_dispute} bills held by open disputes")
    return 0


def cmd_autopay(args, settings: Settings) -> int:
    from billing.autopay import run_autopay
    from portal.gateway import configured_gateway

    today = date.fromisoformat(args.date) if args.date else date.today()
    with _connect(settings) as conn:
        summary = run_autopay(conn, configured_gateway(settings), configured_entities(settings), today, _now())
    if args.json:
        print(json.dumps({"date": today.isoformat(), **summary.document()}))
    else:
        print(f"autopay on {today}: {summary.bills} bills due; {summary.approved} paid "
              f"({_money(summary.approved_minor, settings.currency)}), {summary.declined} declined (the customers are "
              f"told), {summary.nothing_open} already paid")
    return 0


def cmd_arrangements(args, settings: Settings) -> int:
    from billing.dunning import create_arrangement
    from billing.errors import BillingError

    if not args.why:
        return _fail("why_required", "say why with --why")
    with _connect(settings) as conn:
        try:
            arrangement_id = create_arrangement(conn, _account_id(conn, args.account), args.installments,
                                                date.fromisoformat(args.first_due), args.every_days,
                                                args.by or getpass.getuser(), args.why, _now(),
                                                _entity_of(conn, settings, args.account))
        except BillingError as error:
            return _fail(error.code, str(error))
    print(f"payment arrangement {arrangement_id} for {args.account}: {args.installments} installments")
    return 0


def _entity_of(conn, settings: Settings, account_no: str):
    from billing.entities import entity_for
    from storage.accounts import billing_entity_of

    return entity_for(configured_entities(settings), billing_entity_of(conn, _account_id(conn, account_no)))


def register(sub) -> None:
    p = sub.add_parser("account", help="an account: services, balance, bills, payments, notices; budget billing")
    p.add_argument("action", choices=["show", "budget"])
    p.add_argument("account", help="account number")
    p.add_argument("--amount", help="budget: the levelized amount billed each period, e.g. 120.00")
    p.add_argument("--from", dest="start", type=day, help="budget: first period start it applies to (YYYY-MM-DD)")
    p.add_argument("--off", action="store_true", help="budget: back to billing actual charges")
    p.add_argument("--json", action="store_true", help="show: one JSON object (bills with their lines)")
    p.set_defaults(func=cmd_account)

    p = sub.add_parser("bills", help="show, deliver, cancel or rebill bills; corrections raised by late reads")
    p.add_argument("action", choices=["show", "deliver", "cancel", "rebill", "corrections", "final"])
    p.add_argument("bill", type=int, nargs="?", help="bill number")
    p.add_argument("--html", help="write the bill as HTML to this file")
    p.add_argument("--pdf", help="write the bill as PDF to this file")
    p.add_argument("--by", help="who (default: your login)")
    p.add_argument("--why", help="why (required for cancel and rebill)")
    p.add_argument("--json", action="store_true", help="final: one JSON object")
    p.set_defaults(func=cmd_bills)

    p = sub.add_parser("payments", help="post, import, match, return or refund payments; list payment exceptions")
    p.add_argument("action", choices=["post", "import", "exceptions", "match", "return", "refund"])
    p.add_argument("file", nargs="?", help="lockbox file (import)")
    p.add_argument("--payment", type=int, help="payment id (match, return)")
    p.add_argument("--account", help="account number")
    p.add_argument("--invoice", help="bill number the payment is for")
    p.add_argument("--amount", help="amount in the currency's major unit, e.g. 120.50")
    p.add_argument("--reference", help="the payment's unique reference")
    p.add_argument("--method", default="check")
    p.add_argument("--date", type=day, help="received on (YYYY-MM-DD, default today)")
    p.add_argument("--by")
    p.add_argument("--why")
    p.set_defaults(func=cmd_payments)

    p = sub.add_parser("ledger", help="the AR ledger: trial balance, manual adjustments")
    p.add_argument("action", choices=["trial-balance", "adjust"])
    p.add_argument("account", nargs="?")
    p.add_argument("amount", nargs="?", help="positive charges, negative credits")
    p.add_argument("--by")
    p.add_argument("--why")
    p.set_defaults(func=cmd_ledger)

    p = sub.add_parser("autopay", help="pay the bills due of the accounts on autopay, with their stored card tokens")
    p.add_argument("action", choices=["run"])
    p.add_argument("--date", type=day, help="business date (default today)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=cmd_autopay)

    p = sub.add_parser("collections", help="late fees, reminders, final notices, disconnect eligibility")
    p.add_argument("action", choices=["run"])
    p.add_argument("--date", type=day, help="business date (default today)")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("arrangements", help="payment arrangements (installments) that pause collections")
    p.add_argument("action", choices=["create"])
    p.add_argument("account")
    p.add_argument("--installments", type=int, required=True)
    p.add_argument("--first-due", type=day, required=True)
    p.add_argument("--every-days", type=int, default=30)
    p.add_argument("--by")
    p.add_argument("--why")
    p.set_defaults(func=cmd_arrangements)
