"""Customer API (``/api/v1/accounts/...``): usage, running estimate, bills, payments, Green Button,
alerts. Every route takes the account through :func:`portal.deps.account`, which refuses accounts the
caller may not see."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from billing.postings import account_balance
from portal.auth import Principal
from portal.problems import Problem
from rating.money import MINOR_UNITS
from storage.cache import account_key
from storage import customer_views as views
from portal.deps import account, principal

router = APIRouter(prefix="/api/v1", tags=["customer"])
MAX_INTERVAL_DAYS = 62
MAX_DAY_DAYS = 400
AMOUNT = r"^\d{1,9}(\.\d{1,2})?$"


def _decimal(value: int, power: int) -> str:
    return format(Decimal(value).scaleb(power), "f")


class Credentials(BaseModel):
    username: str = Field(min_length=3, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/sessions", status_code=201, tags=["sessions"])
def sign_in(request: Request, credentials: Credentials) -> dict:
    """A bearer token for the API (valid 12 hours)."""
    from portal.auth import SESSION_HOURS
    from portal.deps import sign_in_or_refuse

    token = sign_in_or_refuse(request, credentials.username, credentials.password)
    if token is None:
        raise Problem(401, "sign_in_refused", "that user name and password do not match")
    return {"token": token, "token_type": "bearer", "expires_in": SESSION_HOURS * 3600}


@router.delete("/sessions/current", status_code=204, tags=["sessions"])
def sign_out(request: Request, who: Principal = Depends(principal)) -> Response:
    from portal.auth import logout
    from portal.deps import token_of

    with request.app.state.pool.connection() as conn:
        logout(conn, token_of(request))
    return Response(status_code=204)


@router.get("/me")
async def me(who: Principal = Depends(principal)) -> dict:
    return {"username": who.username, "role": who.role, "accounts": [number for number, _ in who.accounts]}


@router.get("/accounts/{account_no}")
def account_summary(request: Request, target: tuple[int, str] = Depends(account)) -> dict:
    account_id, _ = target
    with request.app.state.pool.connection() as conn:
        row = views.account_summary(conn, account_id)
        balance = account_balance(conn, account_id)
        services = views.account_services(conn, account_id)
    return {"account_no": row[0], "customer_name": row[1], "currency": row[2], "zone": row[3],
            "delivery_channel": row[4], "balance_minor": balance,
            "services": [{"service": s, "meter_no": m, "unit": u, "tariff": t} for s, m, u, t in services]}


def _range(zone: str, which: str | None, start: date | None, end: date | None, cycle: tuple[date, date] | None,
           limit: int) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(zone)).date()
    if which == "today":
        return today, today + timedelta(days=1)
    if which == "yesterday":
        return today - timedelta(days=1), today
    if which == "cycle":
        if cycle is None:
            raise Problem(404, "no_open_period", "the account has no open billing period")
        return cycle
    first = start or today - timedelta(days=30)
    last = end or today + timedelta(days=1)
    if not first < last or (last - first).days > limit:
        raise Problem(422, "bad_range", f"start must be before end, at most {limit} days apart")
    return first, last


@router.get("/accounts/{account_no}/usage")
def usage(request: Request, target: tuple[int, str] = Depends(account),
          view: Literal["day", "interval"] = "day",
          range_: Literal["today", "yesterday", "cycle"] | None = Query(None, alias="range"),
          start: date | None = None, end: date | None = None,
          service: Literal["electric", "water", "gas"] | None = None) -> dict:
    """Usage by local day or by interval: ``range`` = today, yesterday or cycle (the open billing
    period), or ``start``/``end`` (local days, end excluded)."""
    account_id, account_no = target
    with request.app.state.pool.connection() as conn:
        zone = views.account_zone(conn, account_id)
        cycle = views.open_period(conn, account_id)
        first, end_day = _range(zone, range_, start, end, tuple(cycle) if cycle else None,
                                MAX_INTERVAL_DAYS if view == "interval" else MAX_DAY_DAYS)
        if view == "day":
            rows = views.daily_usage(conn, account_id, first, end_day, service)
            data = [{"service": s, "day": d.isoformat(), "quantity": _decimal(q, p), "unit": u, "reads": n,
                     "estimated_reads": e} for s, d, q, u, p, n, e in rows]
        else:
            rows = views.interval_usage(conn, account_id, first, end_day, service)
            data = [{"service": s, "meter_no": n, "start": t.astimezone(timezone.utc).isoformat(), "interval_s": i,
                     "quantity": _decimal(v, p), "unit": u, "quality": q} for s, n, t, i, v, u, p, q in rows]
    return {"account_no": account_no, "view": view, "start": first.isoformat(), "end": end_day.isoformat(),
            "zone": zone, "usage": data}


@router.get("/accounts/{account_no}/estimate")
async def estimate(request: Request, target: tuple[int, str] = Depends(account)) -> Response:
    """Bill-to-date and projected bill of the open period, per service and for the account, with the
    tariff lines behind them: from the estimate cache (updated within a second of a read), or
    computed from PostgreSQL when the cache has none."""
    account_id, _ = target
    state = request.app.state
    namespace = state.cache_namespace or await run_in_threadpool(_load_namespace, state)
    body = await state.redis.hget(account_key(namespace, account_id), "body")
    headers = {}
    if body is not None:
        identity = await run_in_threadpool(_estimate_identity, state, account_id)
        if _cached_matches(body, account_id, identity):
            state.metrics.estimates.labels("cache").inc()
            return Response(body, media_type="application/json", headers={"X-M2C-Source": "cache"})
        # not this account's open period and agreements (a stale body, a period just closed): never served
        headers["X-M2C-Cache"] = "mismatch"
    computed = await run_in_threadpool(_estimate_from_database, state, account_id)
    if computed is None:
        raise Problem(404, "no_open_period", "the account has no open billing period")
    state.metrics.estimates.labels("database").inc()
    return Response(json.dumps(computed), media_type="application/json",
                    headers={"X-M2C-Source": "database", **headers})


def _load_namespace(state) -> str:
    from storage.cache import deployment_namespace

    with state.pool.connection() as conn:
        state.cache_namespace = deployment_namespace(conn)
    return state.cache_namespace


def _estimate_identity(state, account_id: int):
    from storage.usage import estimate_identity

    with state.pool.connection() as conn:
        return estimate_identity(conn, account_id)


def _cached_matches(body: bytes, account_id: int, identity) -> bool:
    """The cached body is of this account, its open period and exactly its agreements."""
    if identity is None:
        return False
    try:
        cached = json.loads(body)
        agreements = frozenset(s["service_agreement_id"] for s in cached["services"])
        return cached["account_id"] == account_id and cached["period_id"] == identity[0] and agreements == identity[1]
    except (ValueError, KeyError, TypeError):
        return False


def _estimate_from_database(state, account_id: int) -> dict | None:
    from billing.estimate import account_estimate

    with state.pool.connection() as conn:
        return account_estimate(conn, account_id, state.tariffs(conn), datetime.now(timezone.utc))


@router.get("/accounts/{account_no}/bills")
def bills(request: Request, target: tuple[int, str] = Depends(account),
          limit: int = Query(24, ge=1, le=120)) -> dict:
    account_id, account_no = target
    with request.app.state.pool.connection() as conn:
        rows = views.bills(conn, account_id, limit)
    return {"account_no": account_no, "bills": [
        {"id": r[0], "period_start": r[1].isoformat(), "period_end": r[2].isoformat(), "current_charges_minor": r[3],
         "total_due_minor": r[4], "currency": r[5], "due_date": r[6].isoformat() if r[6] else None,
         "status": r[7], "kind": r[8], "estimated": r[9], "issued_at": r[10].isoformat(),
         "delivered_at": r[11].isoformat() if r[11] else None} for r in rows]}


def _bill_of(conn, account_id: int, bill_id: int) -> None:
    if not views.owns_bill(conn, account_id, bill_id):
        raise Problem(404, "no_such_bill", "no such bill")


@router.get("/accounts/{account_no}/bills/{bill_id}")
def bill(request: Request, bill_id: int = Path(ge=1, le=2**62), target: tuple[int, str] = Depends(account),
         format: Literal["json", "html", "pdf"] = "json") -> Response:
    from billing.render import bill_document, render_html, render_pdf

    account_id, _ = target
    with request.app.state.pool.connection() as conn:
        _bill_of(conn, account_id, bill_id)
        if format == "json":
            lines = views.bill_lines(conn, bill_id)
            head = views.bill_head(conn, bill_id)
            names = ["period_start", "period_end", "currency", "current_charges_minor", "previous_balance_minor",
                     "payments_minor", "adjustments_minor", "fees_minor", "budget_minor", "total_due_minor",
                     "due_date", "status", "estimated"]
            body = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in zip(names, head)}
            body["id"] = bill_id
            body["lines"] = [{"service": s, "code": c, "description": d, "quantity": str(q), "unit": u,
                              "price": None if p is None else str(p), "amount_minor": a, "kind": k,
                              "tariff_version": v} for s, c, d, q, u, p, a, k, v in lines]
            return Response(json.dumps(body), media_type="application/json")
        document = bill_document(conn, bill_id, request.app.state.entities)
    if format == "html":
        return Response(render_html(document), media_type="text/html")
    return Response(render_pdf(document), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bill-{bill_id}.pdf"'})


@router.get("/accounts/{account_no}/payments")
def payments(request: Request, target: tuple[int, str] = Depends(account),
             limit: int = Query(50, ge=1, le=500)) -> dict:
    account_id, account_no = target
    with request.app.state.pool.connection() as conn:
        rows = views.payments(conn, account_id, limit)
    return {"account_no": account_no, "payments": [
        {"id": r[0], "received_on": r[1].isoformat(), "amount_minor": r[2], "currency": r[3], "channel": r[4],
         "method": r[5], "status": r[6]} for r in rows]}


class PaymentRequest(BaseModel):
    amount: str = Field(pattern=AMOUNT, description="in the account's currency, e.g. 42.10")
    token: str = Field(min_length=1, max_length=64, description="the payment gateway's token for the card")
    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")


@router.post("/accounts/{account_no}/payments", status_code=201)
def pay(request: Request, payment: PaymentRequest, target: tuple[int, str] = Depends(account),
        who: Principal = Depends(principal)) -> dict:
    from billing.errors import LedgerError, PaymentError
    from billing.payments import PaymentIn, receive_payment

    account_id, account_no = target
    amount = Decimal(payment.amount)
    if amount <= 0:
        raise Problem(422, "bad_amount", "the amount must be above zero")
    with request.app.state.pool.connection() as conn:
        currency = views.account_currency(conn, account_id)
        charge = request.app.state.gateway.charge(payment.token, int(amount.scaleb(MINOR_UNITS[currency])), currency,
                                                  f"{who.user_id}:{payment.idempotency_key}")
        if not charge.approved:
            raise Problem(402, "payment_declined", charge.message)
        try:
            outcome = receive_payment(conn, PaymentIn("portal", charge.reference, amount,
                                                      datetime.now(ZoneInfo("UTC")).date(), account_no=account_no,
                                                      method="card", currency=currency),
                                      datetime.now(timezone.utc), request.app.state.entities)
        except (PaymentError, LedgerError) as error:
            raise Problem(422, getattr(error, "code", "invalid_payment"), str(error)) from None
    return {"payment_id": outcome.payment_id, "status": outcome.status, "reference": charge.reference}


@router.get("/accounts/{account_no}/greenbutton")
def green_button(request: Request, target: tuple[int, str] = Depends(account), start: date | None = None,
                 end: date | None = None) -> Response:
    """Download My Data: the account's interval data as a NAESB ESPI Atom feed (local days, end excluded;
    the last 30 days unless given)."""
    from portal.greenbutton import MAX_DAYS, feed

    account_id, account_no = target
    today = date.today()
    first, last = start or today - timedelta(days=30), end or today + timedelta(days=1)
    if not first < last or (last - first).days > MAX_DAYS:
        raise Problem(422, "bad_range", f"start must be before end, at most {MAX_DAYS} days apart")
    with request.app.state.pool.connection() as conn:
        text = feed(conn, account_id, first, last)
    return Response(text, media_type="application/atom+xml", headers={
        "Content-Disposition": f'attachment; filename="greenbutton-{account_no}-{first}-{last}.xml"'})


@router.post("/accounts/{account_no}/greenbutton", status_code=202)
async def green_button_upload(request: Request, meter_no: str = Query(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$"),
                              target: tuple[int, str] = Depends(account)) -> dict:
    """Import a Green Button (ESPI XML) file of the customer's own meter into usage: the body is the
    file. Its reads go through the stream like any head-end's (validated, then stored); the answer
    is the import's summary, with every rejected reading and why."""
    if request.app.state.import_green_button is None:
        raise Problem(501, "not_available", "imports are not available in this server")
    data = await request.body()
    if not data:
        raise Problem(422, "body_required", "the body is the Green Button file")
    return await run_in_threadpool(_import_green_button, request.app.state, target[0], meter_no, data)


def _import_green_button(state, account_id: int, meter_no: str, data: bytes) -> dict:
    with state.pool.connection() as conn:
        if not views.owns_meter(conn, account_id, meter_no):
            raise Problem(404, "no_such_meter", "no such meter on this account")
        return state.import_green_button(conn, data, meter_no)


class Alerts(BaseModel):
    high_usage: bool = False
    high_usage_amount: str | None = Field(None, pattern=AMOUNT, description="alert when the projected bill passes it")
    leak: bool = False


@router.get("/accounts/{account_no}/alerts")
def get_alerts(request: Request, target: tuple[int, str] = Depends(account)) -> Alerts:
    with request.app.state.pool.connection() as conn:
        row = views.alerts(conn, target[0])
    if row is None:
        return Alerts()
    return Alerts(high_usage=row[0], high_usage_amount=None if row[1] is None else _decimal(row[1], -2), leak=row[2])


@router.put("/accounts/{account_no}/alerts")
def set_alerts(request: Request, alerts: Alerts, target: tuple[int, str] = Depends(account)) -> Alerts:
    if alerts.high_usage and not alerts.high_usage_amount:
        raise Problem(422, "amount_required", "a high-usage alert needs the amount")
    minor = int(Decimal(alerts.high_usage_amount).scaleb(2)) if alerts.high_usage_amount else None
    if minor == 0:
        raise Problem(422, "bad_amount", "the amount must be above zero")
    with request.app.state.pool.connection() as conn:
        views.set_alerts(conn, target[0], alerts.high_usage, minor, alerts.leak)
    return alerts
