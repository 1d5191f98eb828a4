"""The demo's portal step: a customer and a billing supervisor get users, a real ``m2c portal serve``
process starts, and the customer signs in over HTTP and sees what the bill run wrote."""
from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

import psycopg

from scenarios.harness import wait_until_serving
from config.settings import Settings
from portal.auth import create_user
from rating.money import format_minor
from storage.scenario_checks import first_billed_account


@dataclass
class PortalReport:
    lines: list[str]
    consistent: bool


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(base: str, path: str, token: str | None = None, body: dict | None = None):
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        raw = answer.read()
        return json.loads(raw) if answer.headers.get_content_type() == "application/json" else raw


def run_portal(settings: Settings, conn: psycopg.Connection) -> PortalReport:
    account_no, bills_total = first_billed_account(conn)
    password = secrets.token_urlsafe(12)
    create_user(conn, f"customer-{account_no}".lower(), password, "customer", [account_no])
    staff_password = secrets.token_urlsafe(12)
    create_user(conn, "supervisor", staff_password, "supervisor")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "meter2cash.cli", "portal", "serve", "--port", str(port)],
                              env={**os.environ, **settings.to_env()}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/healthz")
        token = _call(base, "/api/v1/sessions", body={"username": f"customer-{account_no}".lower(),
                                                       "password": password})["token"]
        bills = _call(base, f"/api/v1/accounts/{account_no}/bills", token)["bills"]
        feed = _call(base, f"/api/v1/accounts/{account_no}/greenbutton?start=2026-10-20&end=2026-11-19", token)
        shown = sum(b["current_charges_minor"] for b in bills)
    finally:
        server.terminate()
        server.wait(10)
    currency = settings.currency
    lines = [f"portal                 customer-{account_no.lower()} signed in over HTTP: {len(bills)} bill(s), "
             f"{format_minor(shown, currency)} {currency}; Green Button download {len(feed) // 1024:,} KiB",
             f"  serve it: M2C_DATABASE_URL={settings.database_url} M2C_REDIS_URL={settings.redis_url} m2c portal serve",
             f"  then sign in at http://127.0.0.1:8080/login as customer-{account_no.lower()} / {password}"
             f" or supervisor / {staff_password}"]
    return PortalReport(lines, shown == bills_total)
