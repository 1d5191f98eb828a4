"""VEE detection on simulator output with known injected faults: for each fault kind, how many were
injected and how many the right rule flagged; exceptions no fault explains are false positives.
Runs the real pipeline (in-process) on the real PostgreSQL; writes benchmarks/results/vee_detection.json.

    python benchmarks/vee_detection.py [--meters 300]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe, save  # noqa: E402
from scenarios.harness import Scenario  # noqa: E402
from config.settings import Settings  # noqa: E402
from simulators.headend import FaultPlan, Truth, generate  # noqa: E402
from streams.pipeline import BatchProcessor, RawMessage  # noqa: E402

# which rule must catch each injected fault
RULE_OF_FAULT = {"negative": "negative", "spike": "high", "misaligned": "misaligned",
                 "unknown_meter": "unknown_meter", "day_spike": "spike", "leak": "continuous_flow"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    scenario = Scenario(Settings.from_env(), "vee", meters=args.meters, seed=args.seed, redis_db=5)
    scenario.prepare()
    faults = FaultPlan(negative=0.002, spike=0.002, misaligned=0.001, unknown_meter=0.001, undecodable=0.001,
                       day_spike=0.01, leak=0.02)
    truth = Truth()
    with psycopg.connect(scenario.settings.database_url, autocommit=True) as conn:
        processor = BatchProcessor(scenario.settings, conn, cache=None)
        batch: list[RawMessage] = []
        for message in generate(scenario.utility, block_hours=6, faults=faults, seed=args.seed, truth=truth):
            batch.append(RawMessage(message.value))
            if len(batch) == 2000:
                processor.process(batch)
                batch = []
        processor.process(batch)
        by_rule = dict(conn.execute("select rule, count(*) from vee_exceptions, unnest(rules) rule group by 1"))
        # the high-against-history rule sees injected spikes too: on a spike day it is explained
        history_on_spikes = conn.execute(
            "select count(*) from vee_exceptions h where h.day_rule = 'high_history' and exists (select 1 from "
            "vee_exceptions s where s.meter_id = h.meter_id and s.block_start = h.block_start and "
            "s.day_rule = 'spike')").fetchone()[0]
        if history_on_spikes:
            by_rule["high_history"] -= history_on_spikes
            if not by_rule["high_history"]:
                del by_rule["high_history"]
        days = (scenario.utility.period_end - scenario.utility.period_start).days
    rows = []
    for fault, rule in RULE_OF_FAULT.items():
        injected = truth.faults.get(fault, 0)
        rows.append({"fault": fault, "rule": rule, "injected": injected, "flagged": by_rule.get(rule, 0)})
    explained = {rule for rule in RULE_OF_FAULT.values()}
    unexplained = {rule: n for rule, n in by_rule.items() if rule not in explained}
    false_positives = sum(max(0, r["flagged"] - r["injected"]) for r in rows) + sum(unexplained.values())
    result = {"benchmark": "vee_detection", "machine": describe(),
              "parameters": {"meters": args.meters, "days": days, "blocks": truth.messages, "reads": truth.reads,
                             "meter_days": args.meters * days, "fault_plan": faults.__dict__},
              "faults": rows, "unexplained_exceptions": unexplained, "false_positives": false_positives,
              "also_flagged_by_history": history_on_spikes,
              "missed": sum(max(0, r["injected"] - r["flagged"]) for r in rows)}
    save("vee_detection", result)
    print("| fault | rule | injected | flagged |")
    for row in rows:
        print(f"| {row['fault']} | {row['rule']} | {row['injected']} | {row['flagged']} |")
    print(f"false positives: {false_positives} in {truth.reads:,} reads / {args.meters * days:,} meter-days; "
          f"missed: {result['missed']}")
    return 0 if not result["missed"] and not false_positives else 1


if __name__ == "__main__":
    sys.exit(main())
