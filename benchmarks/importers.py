"""Head-end file imports and the legacy migration: how fast each runs on this machine.

- **import**: CMEP, Green Button (ESPI) and CSV files of a simulated utility (the simulator's meter mix,
  15-minute electric, hourly or 15-minute water, hourly gas), each imported with ``m2c import``'s code
  path: parse, match the meters in PostgreSQL, scale exactly, encode and publish to Kafka with every
  block acknowledged. Reported as reads/s, with the parse-and-scale part alone beside it.
- **migration**: a synthetic legacy extract (``m2c migrate make-extract``) loaded (validation, records,
  opening balances, bill history, read history through the stream's VEE and merge), then the parallel
  billing run over its last three periods, reported as accounts x periods per second.

Each part runs on a database of its own and unique topics; figures go to benchmarks/results/importers.json.

    python benchmarks/importers.py [--meters 1000] [--days 30] [--migration-meters 500]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe, save  # noqa: E402
from billing.cycles import create_cycles  # noqa: E402
from migration.load import load  # noqa: E402
from migration.parallel_run import parallel_run  # noqa: E402
from migration.synthetic import make_extract  # noqa: E402
from meter2cash.progress import ProgressBar  # noqa: E402
from config.settings import Settings  # noqa: E402
from simulators.files import day_blocks, write_cmep, write_csv, write_espi  # noqa: E402
from simulators.utility import make_utility  # noqa: E402
from storage.bulk_load import load_directory  # noqa: E402
from storage.tariffs import current_tariffs  # noqa: E402
from tests.services import drop_fresh, fresh_settings  # noqa: E402
from streams.file_import import import_file, parse_file  # noqa: E402
from meterdata.formats.scaling import MeterUnit, to_blocks  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402
from billing.entities import configured_entities  # noqa: E402

WRITERS = {"cmep": write_cmep, "greenbutton": write_espi, "csv": write_csv}


def own_settings(base: Settings, prefix: str) -> Settings:
    """A database of its own (migrated, tariffs published, 20 billing cycles) and unique topics."""
    settings = fresh_settings(base, prefix)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        create_cycles(conn, 20, settings.utility_zone)
    return settings


def bench_imports(base: Settings, meters: int, days: int, folder: Path) -> dict:
    settings = own_settings(base, "bench_import")
    try:
        utility = make_utility(meters=meters, seed=5, zone=settings.utility_zone)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            load_directory(conn, utility)
        ensure_topics(settings)
        blocks = list(day_blocks(utility, date(2026, 10, 20), days))
        reads = sum(len(b.values) for _, b in blocks)
        units = {m.meter_no: MeterUnit(m.meter_no, m.unit, m.power_of_ten, m.interval_s, utility.zone)
                 for m in utility.meters}
        results = {}
        for kind, writer in WRITERS.items():
            path = folder / f"reads.{kind}"
            writer(str(path), utility, blocks)
            started = time.perf_counter()
            parsed = parse_file(kind, str(path))
            converted = sum(to_blocks(s, units[s.source_id]).reads for s in parsed.series)
            parse_seconds = time.perf_counter() - started
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                bar = ProgressBar(f"importing {kind} (blocks)")
                started = time.perf_counter()
                summary = import_file(conn, settings.kafka_bootstrap, settings.topic_raw, kind, str(path),
                                      on_progress=bar.update)
                seconds = time.perf_counter() - started
                bar.close()
            assert converted == reads and summary.reads == reads and not summary.rejected, (kind, summary.text())
            results[kind] = {"file_mb": round(path.stat().st_size / 1e6, 1), "reads": reads,
                             "blocks": summary.blocks, "parse_scale_seconds": round(parse_seconds, 2),
                             "parse_scale_reads_per_s": round(reads / parse_seconds),
                             "import_seconds": round(seconds, 2), "import_reads_per_s": round(reads / seconds)}
            print(f"{kind:12} {reads:>10,} reads  {path.stat().st_size / 1e6:7.1f} MB  parse+scale "
                  f"{reads / parse_seconds:>10,.0f} reads/s  import to Kafka {reads / seconds:>10,.0f} reads/s")
            path.unlink()
        return {"meters": meters, "days": days, "formats": results}
    finally:
        drop_fresh(base, settings)


def bench_migration(base: Settings, meters: int, folder: Path) -> dict:
    settings = own_settings(base, "bench_migration")
    try:
        planted = make_extract(str(folder / "extract"), meters=meters, zone=settings.utility_zone)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            started = time.perf_counter()
            bar = ProgressBar("loading the read history (blocks)")
            result = load(conn, settings, folder / "extract", progress=bar.update)
            bar.close()
            load_seconds = time.perf_counter() - started
            run = parallel_run(conn, 3, current_tariffs(conn), configured_entities(settings))
        compared = len(run.bills)
        expected_mismatches = sum(len(p) for p in planted.discrepancies.values())
        assert compared == planted.bills and compared - run.matched == expected_mismatches
        reads = result.counts["reads"]["reads"]
        figures = {"meters": meters, "accounts": run.accounts(), "periods": 3, "bills_compared": compared,
                   "matched": run.matched, "mismatched_by_cause": run.causes(), "reads_loaded": reads,
                   "load_seconds": round(load_seconds, 2), "load_reads_per_s": round(reads / load_seconds),
                   "parallel_run_seconds": round(run.seconds, 2),
                   "account_periods_per_s": round(compared / run.seconds)}
        print(f"migration: {run.accounts():,} accounts, {reads:,} reads loaded in {load_seconds:.1f} s "
              f"({reads / load_seconds:,.0f} reads/s); parallel run of {compared:,} account-periods in "
              f"{run.seconds:.2f} s ({compared / run.seconds:,.0f}/s), {run.matched:,} matched, {run.causes()}")
        return figures
    finally:
        drop_fresh(base, settings)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--migration-meters", type=int, default=500)
    args = parser.parse_args()
    base = Settings.from_env()
    with tempfile.TemporaryDirectory() as scratch:
        imports = bench_imports(base, args.meters, args.days, Path(scratch))
        migration = bench_migration(base, args.migration_meters, Path(scratch))
    save("importers", {"machine": describe(), "import": imports, "migration": migration})
    return 0


if __name__ == "__main__":
    sys.exit(main())
