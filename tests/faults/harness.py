"""The fault-injection suite's load, its runs and the end state they are compared by.

One seeded load (a simulated utility's billing period, more than a million reads) is streamed once
cleanly and then once per fault; each run ends the same way (estimate missing reads, one bill run
with a fixed clock) and its end state - stored reads per meter and day, usage rollups, running
estimates, bills, ledger totals - must equal the clean run's to the cent.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import redis

from billing.bill_run import find_period, run_bill_run
from scenarios.harness import Scenario
from config.settings import Settings
from simulators.headend import generate
from streams.producer import publish
from storage.cache import EstimateCache
from storage.tariffs import current_tariffs
from meterdata.codec import decode
from vee.gap_fill import fill_period

ROOT = Path(__file__).resolve().parents[2]
METERS = 560
SEED = 29
BILLED_AT = datetime(2026, 11, 20, 12, tzinfo=timezone.utc)


@dataclass
class Load:
    messages: list  # simulators.headend.Message, in publishing order
    reads: int
    quantity: int


def make_load(meters: int = METERS, seed: int = SEED) -> tuple[Load, object]:
    from simulators.utility import make_utility

    utility = make_utility(meters=meters, seed=seed)
    messages = list(generate(utility, block_hours=6, seed=seed))
    blocks = [decode(m.value) for m in messages]
    return Load(messages, sum(len(b.values) for b in blocks), sum(int(b.values.sum()) for b in blocks)), utility


class FaultRun:
    """A scenario (fresh database, topics, Redis db) streaming the load through real workers."""

    def __init__(self, base: Settings, name: str, load: Load, redis_db: int, meters: int = METERS, seed: int = SEED,
                 **overrides):
        self.scenario = Scenario(base, name, meters=meters, seed=seed, redis_db=redis_db, **overrides)
        self.settings = self.scenario.settings
        self.load = load
        self.scenario.prepare()

    def publish(self, messages=None, **options) -> None:
        publish(self.settings.kafka_bootstrap, self.settings.topic_raw, messages or self.load.messages, **options)

    def stored_reads(self) -> int:
        with connect(self.settings) as conn:
            return conn.execute("select coalesce(sum(read_count), 0) from usage_daily").fetchone()[0]

    def wait_for_reads(self, at_least: int, timeout: float = 300, workers: list | None = None) -> int:
        deadline = time.monotonic() + timeout
        while True:
            try:
                stored = self.stored_reads()
            except psycopg.OperationalError:
                stored = -1  # the database is away (an outage scenario): keep waiting
            if stored >= at_least:
                return stored
            for worker in workers or []:
                assert worker.poll() is None, f"a worker exited with {worker.returncode}"
            assert time.monotonic() < deadline, f"only {stored} of {at_least} reads stored in {timeout} s"
            time.sleep(0.1)

    def close_and_bill(self) -> None:
        """Cycle close as a scheduler would: estimate the missing reads, bill with a fixed clock."""
        with connect(self.settings) as conn:
            period = find_period(conn, self.scenario.utility.cycle_code)
            fill_period(conn, period)
            run_bill_run(conn, period, current_tariffs(conn), clock=lambda: BILLED_AT)


def connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.database_url, autocommit=True)


def kill(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait()


def end_state(settings: Settings) -> dict:
    """Everything a bill depends on, as plain numbers keyed by business identifiers."""
    with connect(settings) as conn:
        blocks = {(m, str(d)): (n, t) for m, d, n, t in conn.execute(
            "select m.meter_no, b.local_day, b.read_count, b.total from interval_blocks b join meters m "
            "on m.id = b.meter_id where b.channel = 1")}
        usage = {(a, s, str(d)): (q, n) for a, s, d, q, n in conn.execute(
            "select a.account_no, sa.service, u.local_day, u.quantity, u.read_count from agreement_usage_daily u "
            "join service_agreements sa on sa.id = u.service_agreement_id join accounts a on a.id = sa.account_id "
            "where u.channel = 1")}
        bills = {a: (t, d) for a, t, d in conn.execute(
            "select a.account_no, b.total_minor, b.total_due_minor from bills b join accounts a on a.id = b.account_id "
            "where b.status = 'issued'")}
        ledger = {k: int(v) for k, v in conn.execute(
            "select ledger_account, sum(amount_minor) from ledger_entries group by 1")}
        accounts = dict(conn.execute("select id, account_no from accounts"))
        cache = EstimateCache.for_database(settings.redis_url, conn)
    estimates = {}
    for account_id, account_no in accounts.items():
        body = cache.read(account_id)
        estimates[account_no] = None if body is None else (body["bill_to_date_minor"], body["projected_minor"])
    return {"blocks": blocks, "usage": usage, "bills": bills, "ledger": ledger, "estimates": estimates}


def differences(expected: dict, got: dict) -> dict[str, int]:
    """Per part of the state, how many keys differ (missing, extra or other values)."""
    found = {}
    for part in expected:
        keys = set(expected[part]) | set(got[part])
        found[part] = sum(1 for key in keys if expected[part].get(key) != got[part].get(key))
    return found


def rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker_children(pid: int) -> list[int]:
    """The worker's process (a session leader) and its children."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [int(p) for p in out.split()]


def flush_redis(settings: Settings) -> None:
    redis.Redis.from_url(settings.redis_url).flushdb()


def services(action: str, name: str) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "services.sh"), action, name], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)


def m2c(settings: Settings, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "meter2cash.cli", *args], env={**os.environ, **settings.to_env()},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


@dataclass
class Figures:
    scenarios: list = field(default_factory=list)

    def add(self, name: str, faults: dict[str, int], reads_compared: int, diffs: dict[str, int], seconds: float,
            observed: dict | None = None) -> None:
        """``faults``: what was injected (counts); ``observed``: what was measured beside the comparison."""
        self.scenarios.append({"scenario": name, "faults": faults, "observed": observed or {},
                               "reads_compared": reads_compared, "differences": diffs,
                               "differences_total": sum(diffs.values()), "seconds": round(seconds, 1)})

    def summary(self) -> dict:
        return {"scenarios_run": len(self.scenarios),
                "faults_injected": sum(sum(s["faults"].values()) for s in self.scenarios),
                "reads_compared": sum(s["reads_compared"] for s in self.scenarios),
                "differences_found": sum(s["differences_total"] for s in self.scenarios)}
