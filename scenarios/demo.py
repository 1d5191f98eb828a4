"""The main job: a simulated utility streams one billing period of reads through to bills."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from billing.bill_run import run_bill_run
from billing.final_bills import issue_final_bills
from scenarios.demo_lifecycle import Plan, plan_for, record, rekeyed
from scenarios.demo_portal import run_portal
from scenarios.demo_receivables import run_receivables
from scenarios.harness import Scenario
from config.settings import Settings
from rating.money import format_minor
from simulators.headend import FaultPlan
from storage import scenario_checks as checks
from storage.cache import EstimateCache, account_key, deployment_namespace
from vee.queue import act
from storage.tariffs import current_tariffs
from billing.estimate import rebuild_estimates
from vee.gap_fill import fill_period
from billing.entities import configured_entities


@dataclass
class Closed:
    """What cycle close and billing did in the demo."""

    filled: dict
    estimated_accounts: int
    bill_to_date: int
    projected: int
    first: object  # BillRunResult of the first run
    released: int
    second: object
    again: object
    bills: tuple  # (count, total minor) of the regular bills
    finals: tuple  # (count, total minor) of the final bills
    moves: object  # demo_lifecycle.Recorded
    first_bills: int
    accounted: tuple  # checks.billed_or_raised
    raised: dict
    ledger: tuple  # (debits - credits, entries)
    rules: str
    output_dir: Path
    receivables: object
    portal: object


def run_demo(base: Settings, meters: int = 1000, seed: int = 7, name: str = "demo", workers: int = 1) -> int:
    scenario = Scenario(base, name, meters=meters, seed=seed)
    _describe(scenario.utility)
    plan = plan_for(scenario.utility)
    progress, streamed = _stream(scenario, workers, seed, plan)
    closed = _close_and_bill(scenario, name, seed, plan)
    truth = scenario.truth
    _report(scenario, progress, streamed, closed)
    accounted = progress.stored_reads + progress.flagged_reads >= truth.reads
    matches = closed.bill_to_date == closed.bills[1]
    stored, billed, raised = closed.accounted
    once = stored == billed + raised
    print(f"every read stored or flagged: {'yes' if accounted else 'NO'}; "
          f"estimates equal final bills: {'yes' if matches else 'NO'}; "
          f"every stored read billed once or raised: {'yes' if once else 'NO'}")
    _where_next(scenario.settings, scenario.utility, closed.output_dir)
    return 0 if (accounted and matches and once and closed.again.accounts_billed == 0 and closed.ledger[0] == 0
                 and closed.receivables.consistent and closed.portal.consistent) else 1


def _describe(utility) -> None:
    services: dict[str, int] = {}
    for meter in utility.meters:
        services[meter.service] = services.get(meter.service, 0) + 1
    print(f"utility: {len(utility.accounts)} accounts, {len(utility.meters)} meters "
          f"({', '.join(f'{n} {s}' for s, n in sorted(services.items()))}), zone {utility.zone}, "
          f"cycle {utility.cycle_code} {utility.period_start} .. {utility.period_end} (end excluded)")


def _stream(scenario: Scenario, workers: int, seed: int, plan: Plan):
    """Publish the period's reads (with the demo's faults) and wait until the workers processed them."""
    scenario.prepare()
    scenario.start_workers(workers)
    started = time.monotonic()
    try:
        show = (lambda n: print(f"\r  published {n:,} messages", end="", flush=True)) if sys.stdout.isatty() else None
        sent = scenario.publish(block_hours=6, faults=FaultPlan.demo(), json_share=0.05, seed=seed, on_progress=show,
                                transform=lambda messages: rekeyed(messages, plan))
        print(f"\r  published {sent} messages ({scenario.truth.reads} reads) in {time.monotonic() - started:.1f}s")
        progress = scenario.wait_until_processed(timeout=900)
        return progress, time.monotonic() - started
    finally:
        scenario.stop_workers()


def _close_and_bill(scenario: Scenario, name: str, seed: int, plan: Plan) -> Closed:
    """The service desk keys the period's moves and the meter exchange (after their reads came). Cycle
    close: estimate the reads still missing (VEE estimation), re-rate the running estimates with them,
    bill; a billing clerk then reviews the blocking exceptions that held accounts and releases them
    (those accounts are billed on the reads that passed validation); a third run bills nothing; the
    final bills of the move-outs. Then receivables and the portal."""
    settings = scenario.settings
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        moves = record(conn, scenario.utility, plan)
        period_id = checks.first_period(conn)
        tariffs = current_tariffs(conn)
        filled = fill_period(conn, period_id)
        rebuild_estimates(conn, EstimateCache.for_database(settings.redis_url, conn), tariffs)
        estimated_accounts, bill_to_date, projected = scenario.estimates_total()
        entities = configured_entities(settings)
        first = run_bill_run(conn, period_id, tariffs, entities=entities)
        blocking = checks.open_blocking_exceptions(conn)
        released = act(conn, blocking, "release", "demo billing clerk", "reviewed: bill on the reads that passed")
        second = run_bill_run(conn, period_id, tariffs, entities=entities)
        again = run_bill_run(conn, period_id, tariffs, entities=entities)
        issue_final_bills(conn, tariffs, entities)
        bills, finals = checks.bill_totals(conn), checks.bill_totals(conn, "final")
        accounted, raised, first_bills = checks.billed_or_raised(conn), checks.raised_days(conn), checks.first_bills(conn)
        ledger = checks.ledger_totals(conn)
        rules = ", ".join(f"{rule} {count}" for rule, count in checks.holding_rules(conn))
        output_dir = Path(settings.output_dir).resolve() / name
        output_dir.mkdir(parents=True, exist_ok=True)
        receivables = run_receivables(settings, conn, output_dir, seed)
        portal = run_portal(settings, conn)
    return Closed(filled, estimated_accounts, bill_to_date, projected, first, released, second, again, bills, finals,
                  moves, first_bills, accounted, raised, ledger, rules, output_dir, receivables, portal)


def _report(scenario: Scenario, progress, streamed: float, closed: Closed) -> None:
    truth, currency = scenario.truth, scenario.settings.currency
    first, second, again, bills = closed.first, closed.second, closed.again, closed.bills
    print()
    print(f"reads published        {truth.reads:>12,}   ({truth.messages:,} messages, {truth.dlq_messages} undecodable)")
    print(f"reads stored           {progress.stored_reads:>12,}")
    print(f"reads flagged by VEE   {progress.flagged_reads:>12,}   ({closed.rules or 'none'})")
    print(f"dead-lettered messages {progress.dlq_messages:>12,}")
    print(f"reads estimated        {sum(closed.filled.values()):>12,}   "
          f"({', '.join(f'{method} {count}' for method, count in closed.filled.items())}) at cycle close")
    print(f"streamed in            {streamed:>12.1f} s   ({truth.reads / streamed:,.0f} reads/s)")
    print(f"estimated bills        {closed.estimated_accounts:>12,}   bill-to-date "
          f"{format_minor(closed.bill_to_date, currency)}, projected {format_minor(closed.projected, currency)} {currency}")
    print(f"bill run {first.bill_run_id}             {first.accounts_billed:>12,}   bills; "
          f"{len(first.accounts_held)} accounts held by blocking VEE exceptions")
    print(f"review                 {closed.released:>12,}   exceptions released by a billing clerk; bill run "
          f"{second.bill_run_id} billed {second.accounts_billed} more")
    print(f"bills                  {bills[0]:>12,}   total {format_minor(bills[1], currency)} {currency} "
          f"(re-run {again.bill_run_id} billed {again.accounts_billed}); {closed.first_bills} first bills of "
          f"move-ins")
    print("\n".join(closed.moves.lines))
    print(f"final bills            {closed.finals[0]:>12,}   total {format_minor(closed.finals[1], currency)} "
          f"{currency} (move-outs, off-cycle)")
    print(f"raised, not billed     {sum(closed.raised.values()):>12,}   meter days "
          f"({', '.join(f'{rule} {count}' for rule, count in sorted(closed.raised.items())) or 'none'})")
    print(f"ledger                 {closed.ledger[1]:>12,} entries, debits - credits = {closed.ledger[0]}")
    print("\n".join(closed.receivables.lines))
    print("\n".join(closed.portal.lines))


def _where_next(settings: Settings, utility, output_dir: Path) -> None:
    print()
    print("where to look next:")
    print(f"  psql {settings.database_url} -c 'select * from bills limit 5'")
    print(f"  M2C_DATABASE_URL={settings.database_url} m2c account show {utility.accounts[0].account_no}")
    print(f"  M2C_DATABASE_URL={settings.database_url} m2c ledger trial-balance")
    print(f"  print batch and lockbox file in {output_dir}")
    print(f"  M2C_DATABASE_URL={settings.database_url} m2c exceptions list --status all")
    with psycopg.connect(settings.database_url) as conn:
        first_key = account_key(deployment_namespace(conn), 1)
    print(f"  redis-cli -u {settings.redis_url} hget {first_key} body")
    print(f"  Kafka topics {settings.topic_raw}, {settings.topic_exceptions}, {settings.topic_dlq}")
