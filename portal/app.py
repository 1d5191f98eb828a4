"""The portal application: ``create_app(settings)`` wires the routes, the database pool, the estimate
cache, the payment gateway and what the composition root injects (re-estimation, bill runs), and
adds metrics, security headers and input limits."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import psycopg
import redis.asyncio as aioredis
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import generate_latest
from psycopg_pool import ConnectionPool

from portal import (arrangements_api, bill_pages, bills_api, case_pages, cases_api, customer_api, exception_pages,
                    lifecycle_api, order_pages, orders_api, pages, payment_pages, preferences_api, problems,
                    records_api, staff_account_pages, staff_accounts_api, staff_api, staff_payments_api, tariff_pages,
                    tariffs_api)
from portal.gateway import PaymentGateway, TestGateway

from portal.metrics import PortalMetrics
from portal.session_cache import SESSIONS
from billing.entities import configured_entities

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576
MAX_UPLOAD = 16 * 1_048_576  # a customer's Green Button file: a year of 15-minute data is ~6 MB
MAX_LOCKBOX = 5 * 1_048_576 + 65_536  # a lockbox file (5 MiB, checked by the route) and its form
MAX_REPORT = 2 * 1_048_576 + 65_536  # a leak or outage report: its photo (2 MiB, checked by the route) and fields
TARIFF_SECONDS = 60.0


@dataclass
class Services:
    """What the portal calls but does not own; ``meter2cash`` passes the real ones."""

    import_green_button: Callable | None = None  # (conn, file bytes, meter number) -> import summary dict
    gateway: PaymentGateway = field(default_factory=TestGateway)


class BillRuns:
    """Bill runs started from the API, each in a thread of its own; their progress is in PostgreSQL."""

    def __init__(self, run: Callable[[int, str], None]):
        self.run = run
        self.threads: list[threading.Thread] = []

    def start(self, period_id: int, actor: str) -> None:
        def target() -> None:
            try:
                self.run(period_id, actor)
            except Exception:  # recorded on the bill run itself; the thread must not take the server down
                log.exception("bill run of period %s failed", period_id)

        thread = threading.Thread(target=target, name=f"bill-run-{period_id}", daemon=True)
        thread.start()
        self.threads.append(thread)


class Tariffs:
    """The published tariffs, re-read at most once a minute (or at once after a publish here)."""

    def __init__(self):
        self.loaded_at = 0.0
        self.tariffs: dict = {}
        self.lock = threading.Lock()

    def __call__(self, conn) -> dict:
        from storage.tariffs import current_tariffs

        with self.lock:
            if time.monotonic() - self.loaded_at > TARIFF_SECONDS:
                self.tariffs = current_tariffs(conn)
                self.loaded_at = time.monotonic()
            return self.tariffs

    def forget(self) -> None:
        self.loaded_at = 0.0


def create_app(settings, services: Services | None = None, production: bool = False,
               pool_size: int = 10) -> FastAPI:
    services = services or Services()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.pool.open(wait=True, timeout=30)
        SESSIONS.listen(settings.redis_url)  # sessions ended in other processes leave this one's cache
        yield
        SESSIONS.close()
        app.state.pool.close()
        await app.state.redis.aclose()

    app = FastAPI(title="meter2cash portal", version="1", description="Customer self-service and staff API",
                  docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None, lifespan=lifespan,
                  swagger_ui_oauth2_redirect_url=None)
    app.state.settings = settings
    app.state.production = production
    app.state.pool = ConnectionPool(settings.database_url, min_size=1, max_size=pool_size, open=False,
                                    kwargs={"autocommit": True})
    app.state.redis = aioredis.Redis.from_url(settings.redis_url)
    app.state.cache_namespace = None  # the deployment's id, read from the database on first use
    app.state.tariffs = Tariffs()
    app.state.forget_tariffs = app.state.tariffs.forget
    app.state.entities = configured_entities(settings)
    app.state.gateway = services.gateway
    app.state.import_green_button = services.import_green_button
    app.state.bill_runs = BillRuns(_close_period(app))

    metrics_ = PortalMetrics()
    app.state.metrics = metrics_
    registry = metrics_.registry

    problems.install(app)

    @app.exception_handler(psycopg.DataError)
    async def data_error(request, error: psycopg.DataError) -> JSONResponse:
        """Input PostgreSQL cannot take as data (a NUL character in a text, a number out of range):
        the caller's to fix, not a server error."""
        return problems.problem_response(422, "invalid_input", f"invalid input: {str(error).splitlines()[0][:200]}")

    @app.get("/healthz", include_in_schema=False)
    def health() -> dict:
        from storage.portal_users import ping

        with app.state.pool.connection() as conn:
            ping(conn)
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain")

    app.add_middleware(Guard, metrics=metrics_, production=production)
    app.include_router(customer_api.router)
    app.include_router(staff_api.router)
    app.include_router(staff_accounts_api.router)
    app.include_router(staff_payments_api.router)
    app.include_router(bills_api.router)
    app.include_router(tariffs_api.router)
    app.include_router(records_api.router)
    app.include_router(lifecycle_api.router)
    app.include_router(orders_api.router)
    app.include_router(cases_api.router)
    app.include_router(preferences_api.router)
    app.include_router(arrangements_api.router)
    app.include_router(pages.router)
    app.include_router(order_pages.router)
    app.include_router(case_pages.router)
    app.include_router(staff_account_pages.router)
    app.include_router(exception_pages.router)
    app.include_router(payment_pages.router)
    app.include_router(bill_pages.router)
    app.include_router(tariff_pages.router)
    return app


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"), (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", b"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")  # production only: served over TLS


class Guard:
    """ASGI middleware: refuses bodies over the limit (1 MiB; 16 MiB for a Green Button upload) and bodies
    of unknown length, adds the security
    headers and ``Cache-Control: no-store``, and counts every request by route and status."""

    def __init__(self, app, metrics: PortalMetrics, production: bool = False):
        self.app = app
        self.metrics = metrics
        self.headers = SECURITY_HEADERS + ([HSTS] if production else [])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        status = 500
        refusal = None
        limit = MAX_BODY
        if scope["method"] == "POST" and scope["path"].endswith("/greenbutton"):
            limit = MAX_UPLOAD
        elif scope["method"] == "POST" and scope["path"].endswith("/reports"):
            limit = MAX_REPORT
        elif scope["method"] == "POST" and scope["path"].endswith("/lockbox"):
            limit = MAX_LOCKBOX
        if length is not None and (not length.isdigit() or int(length) > limit):
            refusal = (413, "too_large", f"at most {limit} bytes")
        elif length is None and b"transfer-encoding" in headers:
            refusal = (411, "length_required", "send the body with a Content-Length")

        async def send_with_headers(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in self.headers if h[0] not in present]
                if b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        if refusal is None:
            await self.app(scope, receive, send_with_headers)
        else:
            await problems.problem_response(*refusal)(scope, receive, send_with_headers)
        route = getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.latency.labels(route).observe(time.perf_counter() - started)


def _close_period(app: FastAPI) -> Callable[[int, str], None]:
    """A period closed from the staff API: the same close as the scheduler's (estimate, then bill), on a
    connection of its own so a long bill run does not hold one of the pool's."""
    def run(period_id: int, actor: str) -> None:
        from billing.cycle_close import close_period

        with psycopg.connect(app.state.settings.database_url, autocommit=True) as conn:
            close_period(conn, period_id, app.state.tariffs(conn), app.state.entities, actor)
    return run
