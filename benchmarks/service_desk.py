"""Service desk figures on this machine, on a simulated utility's period streamed through a real worker
(Redis holds every running estimate) and ``m2c portal serve`` with two workers:

1. **Account page under load**: 200 customers signed in, each one's ``GET /accounts/{account}`` (the
   whole page: estimate, usage chart with last year, bills, payments, requests, field work,
   preferences, autopay) in turn from 16 connections for 20 s; p50/p99 and pages/s. With
   ``--baseline REF`` the portal of that commit is served on the same database in the same run and
   measured the same way, the two alternating for ``--rounds`` runs each, so the ratio of the median
   p99s is the figure (the machine's noise moves both).
2. **Cases opened through the API**: a clerk opens 3,000 cases (``POST /api/v1/staff/cases``) from 16
   connections; cases/s, p99, and the cases counted in the database after.
3. **Service orders created through the API**: an investigate and a read-on-demand order at every
   service point (``POST /api/v1/staff/orders``) from 16 connections; orders/s, p99, counted after.

    python benchmarks/service_desk.py [--meters 500] [--seconds 20] [--baseline ef1eabe]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.compare import worktree  # noqa: E402
from benchmarks.load import Call, run_load  # noqa: E402
from benchmarks.machine import describe, save  # noqa: E402
from benchmarks.portal import PASSWORD, customer_users, serve, sign_in, stream_period  # noqa: E402
from config.settings import Settings  # noqa: E402
from portal.auth import create_user  # noqa: E402
from scenarios.harness import Scenario  # noqa: E402


def account_pages(base: str, pairs, seconds: float, connections: int) -> dict:
    calls = [Call("GET", f"/accounts/{account}", token, cookie=True) for token, account in pairs]
    return run_load(base, calls, connections, seconds)


def stop(process) -> None:
    process.terminate()
    process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--cases", type=int, default=3000)
    parser.add_argument("--portal-workers", type=int, default=2)
    parser.add_argument("--baseline", help="a commit whose account page is measured in the same run")
    parser.add_argument("--rounds", type=int, default=3, help="account page runs per tree, alternating")
    args = parser.parse_args()
    scenario = Scenario(Settings.from_env(), "bench_desk", meters=args.meters, redis_db=7)
    scenario.prepare()
    settings, utility = scenario.settings, scenario.utility
    scenario.start_workers(1)
    results: dict = {"machine": describe(), "meters": len(utility.meters), "accounts": len(utility.accounts),
                     "portal_workers": args.portal_workers, "connections": args.connections, "seconds": args.seconds}
    try:
        stream_period(scenario)
        users = customer_users(settings, utility.accounts[:200])
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            create_user(conn, "bench-clerk", PASSWORD, "supervisor")
            points = conn.execute("select premise_id, service from service_points order by id").fetchall()
        trees = [("this tree", None)] + ([(f"baseline {args.baseline}", worktree(args.baseline))]
                                         if args.baseline else [])
        pages: dict[str, list[dict]] = {name: [] for name, _ in trees}
        for round_ in range(args.rounds):  # the same database, one portal at a time, the order alternating
            for name, tree in (trees if round_ % 2 == 0 else trees[::-1]):
                portal, base = serve(settings, scenario.run_id, args.portal_workers, tree)
                try:
                    load = account_pages(base, sign_in(base, users), args.seconds, args.connections)
                finally:
                    stop(portal)
                pages[name].append(load)
                print(f"account page, {name}: {load['requests_per_s']:,} pages/s, p50 {load['p50_ms']} ms, "
                      f"p99 {load['p99_ms']} ms, {load['errors']} errors")

        def median(name: str, key: str) -> float:
            return statistics.median(load[key] for load in pages[name])
        results["account_page"] = {"runs": pages["this tree"], "p99_ms": median("this tree", "p99_ms"),
                                   "p50_ms": median("this tree", "p50_ms"),
                                   "pages_per_s": median("this tree", "requests_per_s")}
        if args.baseline:
            old = f"baseline {args.baseline}"
            results["account_page_baseline"] = {"commit": args.baseline, "runs": pages[old],
                                                "p99_ms": median(old, "p99_ms"), "p50_ms": median(old, "p50_ms"),
                                                "pages_per_s": median(old, "requests_per_s")}
            results["account_page_p99_ratio"] = round(median("this tree", "p99_ms") / median(old, "p99_ms"), 3)
            print(f"account page p99 (median of {args.rounds}), this tree / {args.baseline}: "
                  f"{results['account_page_p99_ratio']}")
        portal, base = serve(settings, scenario.run_id, args.portal_workers)
        try:
            [(clerk, _)] = sign_in(base, [("bench-clerk", None)])
            accounts = [a.account_no for a in utility.accounts]
            cases = [Call("POST", "/api/v1/staff/cases", clerk,
                          {"account_no": accounts[n % len(accounts)], "kind": "high_bill", "channel": "phone",
                           "summary": f"the customer asks why the bill is high ({n})"}) for n in range(args.cases)]
            results["cases"] = run_load(base, cases, args.connections, warm_up_s=0)
            orders = [Call("POST", "/api/v1/staff/orders", clerk,
                           {"kind": kind, "premise_id": premise, "service": service, "why": "benchmark field work"})
                      for kind in ("investigate", "read_on_demand") for premise, service in points]
            results["orders"] = run_load(base, orders, args.connections, warm_up_s=0)
        finally:
            stop(portal)
        with psycopg.connect(settings.database_url) as conn:
            results["cases"]["stored"] = conn.execute("select count(*) from cases").fetchone()[0]
            results["orders"]["stored"] = conn.execute("select count(*) from service_orders").fetchone()[0]
        for what in ("cases", "orders"):
            figures = results[what]
            print(f"{what} through the API: {figures['requests']:,} in {figures['seconds']} s = "
                  f"{figures['requests'] / figures['seconds']:,.0f}/s, p50 {figures['p50_ms']} ms, "
                  f"p99 {figures['p99_ms']} ms, {figures['errors']} errors, {figures['stored']:,} stored")
            figures["per_second"] = round(figures["requests"] / figures["seconds"], 1)
    finally:
        scenario.stop_workers()
    save("service_desk", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
