"""VEE kernel throughput per core, after JIT warm-up, against a memory-bound NumPy pass (a sum over
the same arrays the rule set reads) in the same run.

The whole rule set: negative / high / low, interval length, alignment, future, unknown meter and
conflicting duplicates over a batch of blocks, plus the day rules (spike, continuous flow, zero run)
over the same reads laid out as day rows, and the rules against history (each day's hourly sums
against four like days). Batches of realistic size: 2,000 blocks of 96 fifteen-minute reads.

    python benchmarks/vee.py [--batches 200] [--blocks 2000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe, save  # noqa: E402
from vee import blocks as vee, days as vee_day, history as vee_history  # noqa: E402
from meterdata.codec import BlockBatch  # noqa: E402

NOW = 1_800_000_000
START = 1_792_040_400  # a local midnight


def make_batch(rng: np.random.Generator, blocks: int, reads: int) -> tuple[BlockBatch, dict, dict]:
    counts = np.full(blocks, reads, np.int64)
    offsets = np.zeros(blocks + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    values = rng.integers(0, 1200, blocks * reads).astype(np.int64)
    batch = BlockBatch(meter_ids=[f"E{n:07d}" for n in range(blocks)], channel=np.ones(blocks, np.int16),
                       start=START + rng.integers(0, 30, blocks).astype(np.int64) * 86400,
                       interval_s=np.full(blocks, 900, np.int32), offsets=offsets, values=values,
                       quality=np.zeros(blocks * reads, np.uint8))
    facts = dict(meter_index=np.arange(blocks, dtype=np.int64), expected_interval=np.full(blocks, 900, np.int64),
                 low=np.zeros(blocks, np.int64), high=np.full(blocks, 12_000, np.int64),
                 align_offset=np.zeros(blocks, np.int64))
    day_values = np.zeros((blocks, vee_day.MAX_SLOTS), np.int64)
    day_values[:, :reads] = values.reshape(blocks, reads)
    present = np.zeros((blocks, vee_day.MAX_SLOTS), bool)
    present[:, :reads] = True
    days = dict(values=day_values, present=present, hourly_total=day_values[:, :96].reshape(blocks, 24, 4).sum(axis=2),
                complete=np.ones(blocks, bool), water=np.zeros(blocks, bool), spike_candidate=np.ones(blocks, bool),
                ratio=6.0, floor=np.full(blocks, 600, np.int64), min_zero_run=np.full(blocks, 48, np.int64))
    # the history rules: each day against four like days of the same meter
    history = dict(hourly_total=days["hourly_total"],
                   like_hourly=rng.integers(0, 4800, (blocks, 4, 24)).astype(np.int64),
                   like_days=np.full(blocks, 4, np.int64), factor=np.full(blocks, 4.0),
                   floor=np.full(blocks, 1200.0), low_share=np.full(blocks, 0.1))
    days["history"] = history
    return batch, facts, days


def rule_set(batch: BlockBatch, facts: dict, days: dict) -> tuple[np.ndarray, np.ndarray]:
    day_rules = {k: v for k, v in days.items() if k != "history"}
    return (vee.validate(batch, now=NOW, future_tolerance=300, **facts),
            vee_day.check_days(**day_rules) | vee_history.check_history(**days["history"])[0])


def same_arrays_sum(batch) -> int:
    """The memory-bound pass: a NumPy sum over every array the rule set reads."""
    block_batch, _, days = batch
    return (int(block_batch.values.sum()) + int(days["values"].sum()) + int(days["present"].sum())
            + int(days["history"]["like_hourly"].sum()) + int(days["hourly_total"].sum()))


def timed(work, batches: list, rounds: int) -> float:
    """CPU seconds for ``rounds`` passes of ``work`` over every batch, in order."""
    began = time.process_time()
    for _ in range(rounds):
        for batch in batches:
            work(batch)
    return time.process_time() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=96, help="distinct batches (together far larger than caches)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=96)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    batches = [make_batch(rng, args.blocks, args.reads) for _ in range(args.batches)]
    rule_set(*batches[0])  # JIT warm-up (cached compilations load here)
    reads = sum(b[0].read_count for b in batches) * args.rounds
    footprint = sum(b[0].values.nbytes + b[2]["values"].nbytes + b[2]["present"].nbytes
                    + b[2]["history"]["like_hourly"].nbytes for b in batches)
    rules_cpu = timed(lambda b: rule_set(*b), batches, args.rounds)
    memory_cpu = timed(same_arrays_sum, batches, args.rounds)
    # the same two passes on one batch that stays in cache, for comparison
    hot = batches[:1] * args.batches
    hot_rules_cpu = timed(lambda b: rule_set(*b), hot, args.rounds)
    hot_sum_cpu = timed(same_arrays_sum, hot, args.rounds)
    rules_rate, memory_rate = reads / rules_cpu, reads / memory_cpu
    result = {"benchmark": "vee", "machine": describe(),
              "parameters": {"batches": args.batches, "rounds": args.rounds, "blocks_per_batch": args.blocks,
                             "reads_per_block": args.reads, "bytes_streamed_per_round": footprint},
              "reads": reads, "rule_set_cpu_seconds": round(rules_cpu, 4), "sum_cpu_seconds": round(memory_cpu, 4),
              "rule_set_reads_per_second": round(rules_rate), "memory_bound_reads_per_second": round(memory_rate),
              "share_of_memory_bound": round(rules_rate / memory_rate, 3),
              "in_cache": {"rule_set_reads_per_second": round(reads / hot_rules_cpu),
                           "sum_reads_per_second": round(reads / hot_sum_cpu),
                           "share": round(hot_sum_cpu / hot_rules_cpu, 3)}}
    save("vee", result)
    print("| data | rule set reads/s (one core) | NumPy sum reads/s | share |")
    print(f"| {footprint / 2**20:,.0f} MiB streamed | {rules_rate:,.0f} | {memory_rate:,.0f} | "
          f"{rules_rate / memory_rate:.2f} |")
    hot_rate = reads / hot_rules_cpu
    print(f"| one batch in cache | {hot_rate:,.0f} | {reads / hot_sum_cpu:,.0f} | {hot_sum_cpu / hot_rules_cpu:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
