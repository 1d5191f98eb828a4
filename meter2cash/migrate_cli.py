"""``m2c migrate``: the database schema (no action), or a legacy CIS migration:
``validate DIR``, ``load DIR``, ``parallel-run DIR --periods N``, ``make-extract DIR``."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from config.settings import Settings
from billing.entities import configured_entities

EXIT_PROBLEMS = 2  # validate found problems; a parallel run found mismatches


def _connect(settings: Settings):
    import psycopg

    return psycopg.connect(settings.database_url, autocommit=True)


def cmd_migrate(args, settings: Settings) -> int:
    if args.action is None:
        from storage.schema import migrate

        with _connect(settings) as conn:
            conn.autocommit = False
            applied = migrate(conn)
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
        return 0
    if args.dir is None:
        print(f"error: folder_required: m2c migrate {args.action} DIR: give the extract's folder", file=sys.stderr)
        return 2
    if args.action != "make-extract" and not Path(args.dir).is_dir():
        print(f"error: no_such_folder: {args.dir} is not a folder", file=sys.stderr)
        return 2
    return {"validate": _validate, "load": _load, "parallel-run": _parallel_run,
            "make-extract": _make_extract}[args.action](args, settings)


def _validate(args, settings: Settings) -> int:
    from migration.load import check

    with _connect(settings) as conn:
        extract, blocks, problems = check(conn, args.dir)
    for problem in problems[:args.limit]:
        print(problem)
    if len(problems) > args.limit:
        print(f"… {len(problems) - args.limit} more (--limit)")
    rows = {name: len(rows) for name, rows in extract.tables.items()}
    print(f"{args.dir}: " + ", ".join(f"{n} {name[:-4]}" for name, n in sorted(rows.items())) +
          f", {sum(len(b.values) for b in blocks):,} reads; {len(problems)} problems")
    return EXIT_PROBLEMS if problems else 0


def _load(args, settings: Settings) -> int:
    from migration.load import ExtractInvalid, load
    from meter2cash.progress import ProgressBar

    bar = ProgressBar("storing the read history")
    with _connect(settings) as conn:
        try:
            result = load(conn, settings, args.dir, progress=bar.update, read_chunk=args.chunk)
        except ExtractInvalid as error:
            bar.close()
            for problem in error.problems[:args.limit]:
                print(problem, file=sys.stderr)
            print(f"nothing loaded: {len(error.problems)} problems (m2c migrate validate {args.dir})", file=sys.stderr)
            return EXIT_PROBLEMS
    bar.close()
    print(f"migration run {result.run_id}: {result.status}; {json.dumps(result.counts)}")
    return 0


def _parallel_run(args, settings: Settings) -> int:
    from migration.load import extract_digest
    from migration.parallel_run import parallel_run
    from migration.report import write_report
    from meter2cash.progress import ProgressBar
    from storage.migration_runs import run_status
    from storage.tariffs import current_tariffs

    tolerance = int(Decimal(args.tolerance).scaleb(2))
    with _connect(settings) as conn:
        if run_status(conn, extract_digest(Path(args.dir).resolve())) != "finished":
            print(f"m2c migrate parallel-run: {args.dir} is not loaded (m2c migrate load {args.dir})", file=sys.stderr)
            return 1
        bar = ProgressBar("re-billing legacy periods")
        run = parallel_run(conn, args.periods, current_tariffs(conn), configured_entities(settings), tolerance,
                           progress=bar.update)
        bar.close()
    out = args.out or str(Path(settings.output_dir) / f"parallel-run-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}")
    paths = write_report(run, out, settings.currency)
    print(f"parallel run: {run.accounts()} accounts, {len(run.bills)} bills, {run.matched} matched, "
          f"{len(run.bills) - run.matched} mismatched " +
          (f"({', '.join(f'{c} {n}' for c, n in sorted(run.causes().items()))}) " if run.causes() else "") +
          f"in {run.seconds:.1f} s; report {paths['html']}")
    return EXIT_PROBLEMS if run.matched < len(run.bills) else 0


def _make_extract(args, settings: Settings) -> int:
    from migration.synthetic import make_extract

    planted = make_extract(args.dir, meters=args.meters, seed=args.seed, zone=settings.utility_zone,
                           problems=args.problems)
    print(f"{args.dir}: {len(planted.utility.accounts)} accounts, {len(planted.utility.meters)} meters, "
          f"{planted.bills} legacy bills; planted: " +
          ", ".join(f"{cause} {len(found)}" for cause, found in planted.discrepancies.items()) +
          (f"; problems: {', '.join(sorted(code for _, code in planted.problems))}" if planted.problems else ""))
    return 0


def register(sub) -> None:
    p = sub.add_parser("migrate", help="apply database migrations (no action), or migrate a legacy CIS extract")
    p.add_argument("action", nargs="?", choices=["validate", "load", "parallel-run", "make-extract"])
    p.add_argument("dir", nargs="?", help="the legacy extract's folder (docs/migration.md)")
    p.add_argument("--periods", type=int, default=3, help="parallel-run: the last N legacy periods")
    p.add_argument("--tolerance", default="0.00", help="parallel-run: a line matches within this amount")
    p.add_argument("--out", help="parallel-run: the report's folder (default under the output folder)")
    p.add_argument("--limit", type=int, default=50, help="problems to print")
    p.add_argument("--chunk", type=int, default=2000, help="load: read-history blocks stored per transaction")
    p.add_argument("--meters", type=int, default=30, help="make-extract: meters of the simulated utility")
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--problems", action="store_true", help="make-extract: plant one of each validation problem")
    p.set_defaults(func=cmd_migrate)
