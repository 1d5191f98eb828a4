"""Same-run comparison of a benchmark on this tree and on an earlier commit: the two trees' runs
alternate on the same services, so a noisy machine moves both alike. The earlier commit is checked
out into a git worktree (kept under .m2c/compare/<commit>); each run writes its own tree's results
JSON, from which the named figures are read.

    python benchmarks/compare.py --ref 8bde01d --rounds 2 \\
        --figure results.validated_reads_per_second -- ingest.py --workers 2

Writes benchmarks/results/compare-<benchmark>.json with every run's figures and the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe, save  # noqa: E402


def worktree(ref: str) -> Path:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True,
                            text=True).stdout.strip()
    path = ROOT / ".m2c" / "compare" / commit[:12]
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), commit], check=True,
                       capture_output=True)
    return path


def figure(document: dict, dotted: str):
    value = document
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def run(tree: Path, script: str, arguments: list[str], result_name: str, figures: list[str]) -> dict:
    # the tree's own packages first: an editable install of this checkout must not shadow the other's
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, str(tree / "benchmarks" / script), *arguments], cwd=tree, env=env, check=True)
    document = json.loads((tree / "benchmarks" / "results" / result_name).read_text())
    return {name: figure(document, name) for name in figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--figure", action="append", required=True, help="dotted path into the results JSON")
    parser.add_argument("--result", help="results file name (default: <script>.json)")
    parser.add_argument("benchmark", nargs=argparse.REMAINDER, help="-- SCRIPT [ARGS]")
    args = parser.parse_args()
    command = [a for a in args.benchmark if a != "--"]
    if not command:
        parser.error("name the benchmark after --")
    script, arguments = command[0], command[1:]
    result_name = args.result or Path(script).with_suffix(".json").name
    trees = {"before": worktree(args.ref), "after": ROOT}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for side, tree in trees.items():
            runs[side].append(run(tree, script, arguments, result_name, args.figure))
            print(f"{side}: {runs[side][-1]}", flush=True)
    medians = {side: {name: statistics.median(r[name] for r in found) for name in args.figure}
               for side, found in runs.items()}
    ratios = {name: round(medians["after"][name] / medians["before"][name], 3) if medians["before"][name] else None
              for name in args.figure}
    print(f"{'figure':50} {'before':>14} {'after':>14} {'after/before':>13}")
    for name in args.figure:
        print(f"{name:50} {medians['before'][name]:>14,.1f} {medians['after'][name]:>14,.1f} {ratios[name]:>13}")
    save(f"compare-{Path(script).stem}", {"machine": describe(), "ref": args.ref, "benchmark": command,
                                          "runs": runs, "medians": medians, "after_over_before": ratios})
    return 0


if __name__ == "__main__":
    sys.exit(main())
