"""``m2c``: the command line of meter2cash."""
from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date
from pathlib import Path

from meter2cash import (billing_cli, cases_cli, cis_cli, dlq_cli, exceptions_cli, import_cli, lifecycle_cli,
                        migrate_cli, orders_cli, portal_cli, rating_cli, vee_cli)
from meter2cash.arguments import day
from config.settings import Settings
from billing.entities import configured_entities

ROOT = Path(__file__).resolve().parents[1]


def _connect(settings: Settings, autocommit: bool = True):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=autocommit)


def cmd_services(args, settings: Settings) -> int:
    return subprocess.call(["bash", str(ROOT / "scripts" / "services.sh"), args.action, *args.names])


def cmd_topics(args, settings: Settings) -> int:
    from streams.topics import ensure_topics

    created = ensure_topics(settings)
    print("created: " + (", ".join(created) if created else "nothing (all exist)"))
    return 0


def cmd_worker(args, settings: Settings) -> int:
    from streams.worker import run_worker

    from streams.metrics import reads_estimated_counter

    estimated = reads_estimated_counter()
    every = settings.close_cycles_every_s if args.close_cycles_every is None else args.close_cycles_every
    if every > 0:
        from billing.cycle_close import CycleScheduler
        from portal.gateway import configured_gateway

        CycleScheduler(settings, every, tally=lambda s, m, n: estimated.labels(s, m).inc(n),
                       gateway=configured_gateway(settings)).start()
    from billing.receivables_metrics import OrdersCollector, ReceivablesCollector

    import psycopg

    def connect():
        return psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5)

    sys.argv = [sys.argv[0]]  # the Faust worker reads its own command line
    run_worker(settings, metrics_port=args.metrics_port, loglevel=args.loglevel,
               collectors=[ReceivablesCollector(connect), OrdersCollector(connect), estimated])
    return 0


def cmd_cycles(args, settings: Settings) -> int:
    from billing.cycles import create_cycles, due_periods
    from storage.cycles import cycle_summaries

    with _connect(settings) as conn:
        if args.action == "create":
            codes = create_cycles(conn, args.count, settings.utility_zone, args.close_after_days)
            print(f"cycles: {', '.join(codes)}")
            return 0
        if args.action == "list":
            for code, start_day, close_after, accounts, open_periods in cycle_summaries(conn):
                print(f"{code:<8} starts day {start_day:>2}, bills {close_after} day(s) after the end; "
                      f"{accounts:>7} accounts; open periods {open_periods or '-'}")
            today = date.fromisoformat(args.date) if args.date else date.today()
            due = due_periods(conn, today)
            print(f"due on {today}: " + (", ".join(f"{d.cycle_code} {d.period_start}" for d in due) or "none"))
            return 0
    from datetime import datetime, time, timezone
    from zoneinfo import ZoneInfo

    from billing.cycle_close import close_due_cycles
    from portal.gateway import configured_gateway

    now = (datetime.combine(date.fromisoformat(args.date), time(6), ZoneInfo(settings.utility_zone))
           if args.date else datetime.now(timezone.utc))
    report = close_due_cycles(settings, now, gateway=configured_gateway(settings))
    if not report.ran:
        print("error: cycles_busy: another process is closing cycles now; nothing done", file=sys.stderr)
        return 1
    for result in report.bill_runs:
        print(f"bill run {result.bill_run_id}: period {result.billing_period_id}: {result.accounts_billed} bills, "
              f"{len(result.accounts_held)} held, {len(result.accounts_failed)} failed")
    delivery = report.delivery
    print(f"{report.estimated_reads} reads estimated; delivered {delivery.printed} printed, {delivery.emailed} "
          f"emailed, {delivery.portal} to the portal, {delivery.failed} failed; collections: "
          f"{report.collections.late_fees} late fees, {report.collections.final_notices} final notices; autopay: "
          f"{report.autopay.approved} paid, {report.autopay.declined} declined")
    return 0


def cmd_seed(args, settings: Settings) -> int:
    from simulators.utility import make_utility
    from storage.bulk_load import load_directory
    from storage.tariffs import publish_builtin_tariffs
    from storage.schema import migrate

    utility = make_utility(meters=args.meters, seed=args.seed, zone=settings.utility_zone)
    with _connect(settings, autocommit=False) as conn:
        migrate(conn)
        conn.autocommit = True
        publish_builtin_tariffs(conn)
        loaded = load_directory(conn, utility)
    print(f"utility: {len(utility.accounts)} accounts, {len(utility.meters)} meters "
          f"({loaded['meters_added']} new), cycle {utility.cycle_code} "
          f"{utility.period_start}..{utility.period_end}")
    return 0


def cmd_simulate(args, settings: Settings) -> int:
    from simulators.headend import FaultPlan, Truth, generate
    from streams.producer import publish
    from simulators.utility import make_utility
    from streams.topics import ensure_topics

    utility = make_utility(meters=args.meters, seed=args.seed, zone=settings.utility_zone)
    ensure_topics(settings)
    from meter2cash.progress import ProgressBar

    truth = Truth()
    faults = FaultPlan.demo() if args.faults else FaultPlan()
    bar = ProgressBar("publishing")
    days = (utility.period_end - utility.period_start).days
    expected = len(utility.meters) * days * (24 // args.block_hours)
    sent = publish(settings.kafka_bootstrap, settings.topic_raw,
                   generate(utility, block_hours=args.block_hours, faults=faults, json_share=args.json_share,
                            truth=truth), on_progress=lambda n: bar.update(n, expected))
    bar.close()
    print(f"published {sent} messages, {truth.reads} reads ({truth.flagged_reads} with injected faults, "
          f"{truth.dlq_messages} undecodable messages)")
    return 0


def cmd_bill_run(args, settings: Settings) -> int:
    from billing.bill_run import find_period, run_bill_run
    from billing.errors import BillRunBusy
    from rating.money import format_minor
    from storage.tariffs import current_tariffs

    from billing.metrics import BillRunMetrics
    from meter2cash.progress import ProgressBar

    metrics = BillRunMetrics()
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=settings.metrics_address, registry=metrics.registry)
    from vee.gap_fill import fill_period

    bar = ProgressBar("billing accounts")
    with _connect(settings) as conn:
        period_id = find_period(conn, args.cycle, date.fromisoformat(args.period_start) if args.period_start else None)
        if args.estimate:
            estimated = fill_period(conn, period_id, tally=lambda s, m, n: metrics.reads_estimated.labels(s, m).inc(n))
            if any(estimated.values()):
                print("estimated missing reads: " + ", ".join(f"{n} {m}" for m, n in estimated.items() if n))
        try:
            result = run_bill_run(conn, period_id, current_tariffs(conn), metrics=metrics, progress=bar.update,
                                  entities=configured_entities(settings), chunk_accounts=args.chunk,
                                  workers=args.workers or None)
        except BillRunBusy as error:
            bar.close()
            print(f"{error.code}: {error}", file=sys.stderr)
            return 3
    bar.close()
    print(f"bill run {result.bill_run_id}: period {period_id}: {result.accounts_billed} bills, "
          f"total {format_minor(result.total_minor, settings.currency)} {settings.currency}; "
          f"{result.accounts_already_billed} already billed; {len(result.accounts_held)} held; "
          f"{len(result.accounts_failed)} failed")
    for account_no, reason in sorted(result.accounts_held.items())[:20]:
        print(f"  held {account_no}: {reason}")
    for account_no, reason in sorted(result.accounts_failed.items())[:20]:
        print(f"  failed {account_no}: {reason}")
    return 0


def cmd_estimates(args, settings: Settings) -> int:
    from storage.cache import EstimateCache
    from storage.tariffs import current_tariffs
    from billing.estimate import rebuild_estimates

    with _connect(settings) as conn:
        written = rebuild_estimates(conn, EstimateCache.for_database(settings.redis_url, conn), current_tariffs(conn))
    print(f"rebuilt {written} account estimates from PostgreSQL")
    return 0


def cmd_status(args, settings: Settings) -> int:
    from meter2cash.status import report

    print("\n".join(report(settings, args.worker_metrics_port)))
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from scenarios.demo import run_demo

    return run_demo(settings, meters=args.meters, seed=args.seed)


class Parser(argparse.ArgumentParser):
    """Argument mistakes in one line with a code (exit 2), like every other mistake; --help shows usage."""

    def error(self, message: str):
        self.exit(2, f"error: bad_argument: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="m2c", description="meter2cash: AMI reads to bills")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("services", help="start, stop or check the local Kafka, PostgreSQL and Redis")
    p.add_argument("action", choices=["install", "up", "down", "status", "reset"])
    p.add_argument("names", nargs="*", help="kafka, postgres, redis (default: all)")
    p.set_defaults(func=cmd_services)

    migrate_cli.register(sub)
    sub.add_parser("topics", help="create the Kafka topics").set_defaults(func=cmd_topics)

    p = sub.add_parser("worker", help="run a streams worker (Faust)")
    p.add_argument("--metrics-port", type=int, default=9308)
    p.add_argument("--loglevel", default="warning")
    p.add_argument("--close-cycles-every", type=float, metavar="SECONDS",
                   help="close due billing cycles (bill run, delivery, collections) this often; 0: never "
                        "(default: M2C_CLOSE_CYCLES_EVERY, 300)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("cycles", help="billing cycles: create, list, close the due ones now")
    p.add_argument("action", choices=["create", "list", "close-due"])
    p.add_argument("--count", type=int, default=20, help="cycles to create (one per start day)")
    p.add_argument("--close-after-days", type=int, default=1)
    p.add_argument("--date", type=day, help="business date (default today)")
    p.set_defaults(func=cmd_cycles)

    rating_cli.register(sub)
    exceptions_cli.register(sub)
    billing_cli.register(sub)
    import_cli.register(sub)
    import_cli.register_push(sub)
    portal_cli.register(sub)
    vee_cli.register(sub)
    dlq_cli.register(sub)
    cis_cli.register(sub)
    lifecycle_cli.register(sub)
    orders_cli.register(sub)
    cases_cli.register(sub)

    p = sub.add_parser("seed", help="load a simulated utility's accounts, meters and tariffs")
    p.add_argument("--meters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("simulate", help="publish a simulated billing period of reads to Kafka")
    p.add_argument("--meters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--block-hours", type=int, default=6)
    p.add_argument("--json-share", type=float, default=0.05)
    p.add_argument("--faults", action=argparse.BooleanOptionalAction, default=True)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("bill-run", help="finalize a billing period's bills")
    p.add_argument("--cycle", default="C01")
    p.add_argument("--period-start", type=day, help="YYYY-MM-DD (default: the oldest open period)")
    p.add_argument("--metrics-port", type=int, default=9309, help="serve /metrics while running (0: off)")
    p.add_argument("--estimate", action=argparse.BooleanOptionalAction, default=True,
                   help="estimate missing reads of the period first (VEE estimation)")
    p.add_argument("--chunk", type=int, default=1000, help="accounts priced and written per transaction")
    p.add_argument("--workers", type=int, default=0,
                   help="processes billing chunks side by side (default: one per core)")
    p.set_defaults(func=cmd_bill_run)

    p = sub.add_parser("estimates", help="rebuild the Redis estimates from PostgreSQL")
    p.add_argument("action", choices=["rebuild"])
    p.set_defaults(func=cmd_estimates)

    p = sub.add_parser("status", help="health summary: services, ingest rate and lag, exceptions, last bill run")
    p.add_argument("--worker-metrics-port", type=int, default=9308)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("demo", help="a simulated utility streaming through to bills")
    p.add_argument("--meters", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a command. What goes wrong outside the command's control (a service away) or in its input (a
    missing file) is said in one line with a code - never a traceback: exit 2 for the caller's mistake,
    1 for a service that failed."""
    import psycopg
    from confluent_kafka import KafkaException

    from config.errors import M2CError
    from storage.db_errors import first_line

    args = build_parser().parse_args(argv)
    try:
        return args.func(args, Settings.from_env())
    except M2CError as error:  # every project error: a user's mistake, said with its code
        return _one_line(error.code, first_line(error), 2)
    except FileNotFoundError as error:
        return _one_line("no_such_file", f"{error.filename or error}: no such file", 2)
    except IsADirectoryError as error:
        return _one_line("not_a_file", f"{error.filename or error} is a directory", 2)
    except PermissionError as error:
        return _one_line("permission_denied", f"{error.filename or error}: permission denied", 2)
    except UnicodeDecodeError as error:
        return _one_line("not_text", f"the file is not UTF-8 text ({error.reason} at byte {error.start})", 2)
    except psycopg.errors.UndefinedTable as error:
        return _one_line("not_migrated", f"{first_line(error)}: run `m2c migrate` first", 2)
    except psycopg.OperationalError as error:
        return _one_line("database_unavailable", first_line(error), 1)
    except KafkaException as error:
        return _one_line(getattr(error, "code", "kafka_unavailable"), first_line(error), 1)
    except KeyboardInterrupt:
        return _one_line("interrupted", "stopped by the user", 130)


def _one_line(code: str, message: str, status: int) -> int:
    print(f"error: {code}: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
