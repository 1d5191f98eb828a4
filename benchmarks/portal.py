"""Portal throughput and freshness on this machine.

1. **Estimate endpoint under load**: a simulated utility's period is streamed through a real worker
   so Redis holds every account's running estimate; ``m2c portal serve`` runs with two workers; a
   load generator in a second process (asyncio + aiohttp, keep-alive; 16, 32 and 64 connections) signs
   in as 200 customers and calls ``GET /api/v1/accounts/{account}/estimate`` for each of them in turn for
   20 s per level. Reported: requests/s and p50/p99 latency as the client saw them.
2. **Read to visible estimate**: while a publisher streams changed reads of the other accounts in the
   background at a steady rate (20,000 reads/s in day blocks, as the ingest benchmark), a probe
   publishes one changed interval of a probe account to Kafka and polls the API
   every 5 ms until that account's estimate shows it; 60 probes, p50/p99 reported.

    python benchmarks/portal.py [--meters 500] [--seconds 20] [--connections 16,32,64]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import date, datetime, time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load import Call, percentile, run_load  # noqa: E402
from benchmarks.machine import describe, save  # noqa: E402
from scenarios.demo_portal import free_port  # noqa: E402
from meter2cash.progress import ProgressBar  # noqa: E402
from scenarios.harness import Scenario, wait_until_serving  # noqa: E402
from config.settings import Settings  # noqa: E402
from portal.auth import create_user  # noqa: E402
from simulators.headend import generate  # noqa: E402
from confluent_kafka import Producer  # noqa: E402

from meterdata.codec import Block, Message, decode, encode_binary  # noqa: E402

PASSWORD = "benchmark password 1"


def load_test(base: str, pairs, seconds: float, connections: int) -> dict:
    """Each customer's estimate in turn, from ``connections`` clients, after a 3 s warm-up."""
    calls = [Call("GET", f"/api/v1/accounts/{account}/estimate", token) for token, account in pairs]
    return run_load(base, calls, connections, seconds)


# ---------------------------------------------------------------- read to visible estimate
def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def freshness(scenario: Scenario, base: str, token: str, account: str, meter, probes: int,
              background: list[Message], reads_per_s: float) -> dict:
    settings = scenario.settings
    zone = ZoneInfo(settings.utility_zone)
    stop = threading.Event()
    sent = [0, 0]  # messages, reads
    reads_per_message = sum(len(decode(m.value).values) for m in background[:200]) / 200
    batch = 100
    pause = batch * reads_per_message / reads_per_s

    def stream() -> None:  # changed reads of the other accounts, at a steady rate
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 5, "log_level": 3})
        next_at = time.perf_counter()
        while not stop.is_set():
            for start in range(0, len(background), batch):
                if stop.is_set():
                    break
                for message in background[start:start + batch]:
                    producer.produce(settings.topic_raw, key=message.key, value=message.value)
                producer.poll(0)
                sent[0] += batch
                sent[1] += batch * reads_per_message
                next_at += pause
                time.sleep(max(0.0, next_at - time.perf_counter()))
        producer.flush(30)

    publisher = threading.Thread(target=stream, daemon=True)
    publisher.start()
    url = f"{base}/api/v1/accounts/{account}/estimate"
    probe = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 0, "acks": "all", "log_level": 3})
    moment = int(datetime.combine(date(2026, 11, 10), clock(12), zone).timestamp())
    rng = np.random.default_rng(3)
    delays = []
    pipeline = []  # publish to the estimate written (its as_of), the rest is the poll
    try:
        for number in range(probes):
            before = json.dumps(get_json(url, token)["services"], sort_keys=True)
            value = int(rng.integers(1000, 9000)) + number
            block = Block(meter.meter_no, 1, moment, meter.interval_s, np.array([value], np.int64),
                          np.zeros(1, np.uint8))
            started = time.perf_counter()
            wall = time.time()
            probe.produce(settings.topic_raw, key=meter.meter_no.encode(), value=encode_binary(block))
            probe.flush(10)
            while time.perf_counter() - started < 30:
                body = get_json(url, token)
                if json.dumps(body["services"], sort_keys=True) != before:
                    delays.append(time.perf_counter() - started)
                    pipeline.append(datetime.fromisoformat(body["as_of"]).timestamp() - wall)
                    break
                time.sleep(0.005)
            else:
                delays.append(float("inf"))
            time.sleep(0.2)
    finally:
        stop.set()
        publisher.join(30)
    finite = [d for d in delays if d != float("inf")]
    return {"probes": probes, "seen": len(finite), "p50_ms": round(percentile(finite, 0.5) * 1000, 1),
            "p99_ms": round(percentile(finite, 0.99) * 1000, 1), "max_ms": round(max(finite) * 1000, 1),
            "mean_ms": round(statistics.mean(finite) * 1000, 1), "background_messages": sent[0],
            "to_estimate_written_p50_ms": round(percentile(pipeline, 0.5) * 1000, 1),
            "to_estimate_written_p99_ms": round(percentile(pipeline, 0.99) * 1000, 1),
            "background_reads_per_s": reads_per_s}


# ---------------------------------------------------------------- the portal on a streamed period
def stream_period(scenario: Scenario) -> None:
    """Publish the scenario's period and wait until its worker stored every read."""
    print(f"streaming a period of {len(scenario.utility.meters)} meters through a worker ...")
    scenario.publish(block_hours=24)
    bar = ProgressBar("reads committed")
    deadline = time.monotonic() + 600
    while (done := scenario.progress().stored_reads + scenario.progress().flagged_reads) < scenario.truth.reads:
        bar.update(done, scenario.truth.reads)
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not store the period in 10 minutes")
        time.sleep(1)
    bar.close()


def customer_users(settings: Settings, accounts, role: str = "customer") -> list[tuple[str, str | None]]:
    """A portal user per account: (user name, account number)."""
    users = []
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        for account in accounts:
            name = f"bench-{account.account_no.lower()}"
            create_user(conn, name, PASSWORD, role, [account.account_no])
            users.append((name, account.account_no))
    return users


def serve(settings: Settings, run_id: str, workers: int, tree: Path | None = None) -> tuple[subprocess.Popen, str]:
    """``m2c portal serve`` of this checkout, or of another one (``tree``: its own packages first)."""
    port = free_port()
    env = {**os.environ, **settings.to_env(), **({"PYTHONPATH": str(tree)} if tree else {})}
    process = subprocess.Popen([sys.executable, "-m", "meter2cash.cli", "portal", "serve", "--port", str(port),
                                "--workers", str(workers)], env=env, cwd=str(tree) if tree else None,
                               stderr=open(f"/tmp/{run_id}.portal-{port}.log", "w"))
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{base}/healthz")
    return process, base


def sign_in(base: str, users: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """(session token, account number) of each user."""
    pairs = []
    for name, account in users:
        request = urllib.request.Request(f"{base}/api/v1/sessions", json.dumps(
            {"username": name, "password": PASSWORD}).encode(), {"Content-Type": "application/json"})
        pairs.append((json.loads(urllib.request.urlopen(request).read())["token"], account))
    return pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", default="16,32,64", help="comma-separated: one load run per level")
    parser.add_argument("--portal-workers", type=int, default=2)
    parser.add_argument("--probes", type=int, default=60)
    parser.add_argument("--background-reads-per-s", type=float, default=20_000.0)
    args = parser.parse_args()
    scenario = Scenario(Settings.from_env(), "bench_portal", meters=args.meters, redis_db=6)
    scenario.prepare()
    settings = scenario.settings
    utility = scenario.utility
    probe_account = utility.accounts[0]
    probe_meter = next(m for m in utility.meters if m.account_no == probe_account.account_no and m.service == "electric")
    others = {m.meter_no for m in utility.meters if m.account_no != probe_account.account_no}
    scenario.start_workers(1)
    portal = None
    try:
        stream_period(scenario)
        users = customer_users(settings, utility.accounts[:200])
        portal, base = serve(settings, scenario.run_id, args.portal_workers)
        pairs = sign_in(base, users)
        loads = []
        for connections in [int(c) for c in args.connections.split(",") if c]:
            load = load_test(base, pairs, args.seconds, connections)
            loads.append(load)
            print(f"estimate endpoint, {connections} connections: {load['requests_per_s']:,} requests/s, "
                  f"p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, {load['errors']} errors")
        background = [m for m in generate(utility, block_hours=24, seed=99) if m.key.decode() in others]
        probe_token = next(t for t, a in pairs if a == probe_account.account_no)
        fresh = freshness(scenario, base, probe_token, probe_account.account_no, probe_meter, args.probes, background,
                          args.background_reads_per_s)
        print(f"read to visible estimate under background ingest: p50 {fresh['p50_ms']} ms, p99 {fresh['p99_ms']} ms "
              f"({fresh['seen']} of {fresh['probes']} probes seen; background {args.background_reads_per_s:,.0f} reads/s); "
              f"estimate written after p50 {fresh['to_estimate_written_p50_ms']} ms, "
              f"p99 {fresh['to_estimate_written_p99_ms']} ms")
    finally:
        if portal is not None:
            portal.terminate()
            portal.wait(10)
        scenario.stop_workers()
    save("portal", {"machine": describe(), "meters": len(utility.meters), "accounts": len(utility.accounts),
                    "portal_workers": args.portal_workers, "seconds": args.seconds, "estimate_endpoint": loads,
                    "read_to_visible": fresh})
    return 0


if __name__ == "__main__":
    sys.exit(main())
