"""End-to-end ingest throughput: Kafka -> Faust -> VEE -> PostgreSQL -> estimates in Redis.

Publishes a fixed seeded load (default: 5,000 meters for one 30-day billing period, ~10.7 million
reads in day blocks) while the streams workers run, and measures validated reads per second from
the first publish to the moment every read is committed (stored or flagged). Prints a table and
writes benchmarks/results/ingest.json (and a timestamped copy) with the machine's details.

    python benchmarks/ingest.py [--meters 5000] [--workers 1] [--block-hours 24]
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe, save  # noqa: E402
from scenarios.harness import Scenario  # noqa: E402
from config.settings import Settings  # noqa: E402
from simulators.headend import FaultPlan  # noqa: E402



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--block-hours", type=int, default=24)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()

    scenario = Scenario(Settings.from_env(), "bench", meters=args.meters, seed=args.seed, redis_db=2,
                        topic_partitions=args.partitions)
    print(f"preparing: {args.meters} meters, {args.workers} worker(s), {args.block_hours} h blocks")
    scenario.prepare()
    scenario.start_workers(args.workers)
    time.sleep(8)  # workers join the group before the clock starts (JIT caches are warm from the first run)
    samples = []
    try:
        published = {}

        def publisher():
            began = time.monotonic()
            published["messages"] = scenario.publish(block_hours=args.block_hours, faults=FaultPlan.demo(),
                                                     seed=args.seed)
            published["seconds"] = time.monotonic() - began

        started = time.monotonic()
        thread = threading.Thread(target=publisher)
        thread.start()
        while thread.is_alive() or scenario.truth.reads == 0:
            time.sleep(1.0)
            progress = scenario.progress()
            samples.append((round(time.monotonic() - started, 1), progress.stored_reads + progress.flagged_reads))
            print(f"\r  {samples[-1][0]:6.1f}s  {samples[-1][1]:>12,} reads committed", end="", flush=True)
        thread.join()
        while True:  # sample until every read is committed, then take the exact finishing time
            progress = scenario.progress()
            done = progress.stored_reads + progress.flagged_reads
            if done >= scenario.truth.reads and progress.dlq_messages >= scenario.truth.dlq_messages:
                break
            samples.append((round(time.monotonic() - started, 1), done))
            print(f"\r  {samples[-1][0]:6.1f}s  {done:>12,} reads committed", end="", flush=True)
            time.sleep(0.5)
        progress = scenario.wait_until_processed(timeout=1800, poll=0.2)
        elapsed = time.monotonic() - started
        print()
    finally:
        scenario.stop_workers()

    truth = scenario.truth
    reads = truth.reads
    result = {
        "benchmark": "ingest",
        "machine": describe(),
        "parameters": {"meters": args.meters, "workers": args.workers, "partitions": args.partitions,
                       "block_hours": args.block_hours, "seed": args.seed,
                       "reads_per_message": round(reads / max(1, truth.messages), 1),
                       "wire_format": "binary v1", "period_days": 30},
        "results": {"messages": truth.messages, "reads": reads, "reads_stored": progress.stored_reads,
                    "reads_flagged": progress.flagged_reads, "dlq_messages": progress.dlq_messages,
                    "publish_seconds": round(published["seconds"], 2), "end_to_end_seconds": round(elapsed, 2),
                    "validated_reads_per_second": round(reads / elapsed),
                    "publish_reads_per_second": round(reads / published["seconds"])},
        "progress_samples": samples,
    }
    save("ingest", result)
    stamp = result["machine"]["recorded_at"].replace(":", "").replace("-", "")
    save(f"ingest-{stamp}-w{args.workers}", result)
    r = result["results"]
    print("| reads | messages | workers | publish s | end-to-end s | validated reads/s |")
    print(f"| {reads:,} | {truth.messages:,} | {args.workers} | {r['publish_seconds']} | "
          f"{r['end_to_end_seconds']} | {r['validated_reads_per_second']:,} |")
    ok = progress.stored_reads + progress.flagged_reads == reads
    print("every read stored or flagged:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
