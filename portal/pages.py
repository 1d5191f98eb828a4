"""Server-rendered pages: sign-in, a customer's account (estimate, usage chart, bills, payments, pay,
Green Button download), a bill, and the staff pages (search, exception queue, bill runs, account view,
customer records: open an account, add a premise).
Forms post with the session cookie (HttpOnly, SameSite=Strict); a form posted from another origin is
refused."""
from __future__ import annotations

import json
import re
import secrets
from datetime import date, timedelta
from pathlib import Path as FilePath

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from config.errors import M2CError
from portal import (arrangements_api, cases_api, customer_api, lifecycle_api, orders_api, preferences_api, records_api,
                    staff_accounts_api, staff_api)
from portal.errors import RequestRefused, RoleRequired
from portal.problems import Problem
from portal.auth import SESSION_HOURS, Principal, logout
from portal.deps import COOKIE, account, optional_principal, sign_in_or_refuse, token_of
from rating.money import format_minor
from storage.db_errors import first_line

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(FilePath(__file__).parent / "templates"))


def _same_origin(request: Request) -> None:
    """A state-changing form must come from this site: browsers send Origin with every POST, so a form
    without one, or from another scheme or host, is refused (the session cookie's SameSite=Strict is
    the first guard, this the second). In production the site is https whatever the proxy speaks."""
    origin = request.headers.get("origin")
    scheme = "https" if request.app.state.production else request.url.scheme
    if not origin:
        raise Problem(403, "origin_required", "form posted without an Origin header")
    if origin != f"{scheme}://{request.headers.get('host')}":
        raise Problem(403, "cross_site_form", "form posted from another site")


def _page(request: Request, name: str, who: Principal | None, status: int = 200, **context) -> HTMLResponse:
    currency = request.app.state.settings.currency
    return templates.TemplateResponse(request, name, {"who": who, "money": lambda m: format_minor(m, currency),
                                                      "money_code": currency, **context}, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", None, title="Sign in")


@router.post("/login")
def login_form(request: Request, username: str = Form(max_length=64), password: str = Form(max_length=256)):
    _same_origin(request)
    token = sign_in_or_refuse(request, username, password)
    if token is None:
        return _page(request, "login.html", None, status=401, title="Sign in",
                     error="That user name and password do not match.")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="strict",
                        secure=request.app.state.production)
    return response


@router.post("/logout")
def logout_form(request: Request):
    _same_origin(request)
    token = token_of(request)
    if token:
        with request.app.state.pool.connection() as conn:
            logout(conn, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home(who: Principal | None = Depends(optional_principal)):
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if who.is_staff:
        return RedirectResponse("/staff", status_code=303)
    if not who.accounts:
        raise Problem(404, "no_account_linked", "no account is linked to this user")
    return RedirectResponse(f"/accounts/{who.accounts[0][0]}", status_code=303)


def _signed_in(who: Principal | None) -> Principal:
    if who is None:
        raise Problem(401, "unauthorized", "sign in")
    return who


def refusal(error: Exception) -> M2CError:
    """What a page shows for a refused action: a workflow's refusal as it is, an API problem or a field the
    form cannot take as given (too short, not a date) as a refusal with its code and HTTP status."""
    if isinstance(error, Problem):
        refused = RequestRefused(error.detail, code=error.code)
        refused.status = error.status_code
        return refused
    return error if isinstance(error, M2CError) else RequestRefused(str(error).splitlines()[0])


def _staff(who: Principal | None) -> Principal:
    who = _signed_in(who)
    if not who.is_staff:
        raise Problem(403, "staff_only", "staff only")
    return who


def _services_first(summary: dict) -> list[str]:
    """The account's services, then the others (a start request may be for one it does not have)."""
    own = sorted({s["service"] for s in summary.get("services", [])})
    return own + [s for s in ("electric", "water", "gas") if s not in own]


def _usage_charts(request: Request, target: tuple[int, str], usage: dict, services: list[dict]) -> list[dict]:
    """The period's charts, with the same days of last year where the account has them; gas billed in
    therms is shown in therms with the heating value of the account's tariff in force that day."""
    from portal.usage_chart import charts, _last_year
    from rating.errors import NoTariffVersion

    first, end = date.fromisoformat(usage["start"]), date.fromisoformat(usage["end"])
    before = []
    if usage["usage"] and _last_year(first) and _last_year(end):
        before = customer_api.usage(request, target, "day", None, _last_year(first), _last_year(end), None)["usage"]
    in_therms = {}
    if any(s["service"] == "gas" for s in services):
        with request.app.state.pool.connection() as conn:
            published = request.app.state.tariffs(conn)
        in_therms = {s["service"]: published[s["tariff"]].tariff for s in services
                     if s["tariff"] in published and published[s["tariff"]].tariff.billing_unit == "therm"}

    def heat(service: str, day: date):
        if service not in in_therms:
            return None
        try:
            return in_therms[service].version_on(day).therms_per_ccf
        except NoTariffVersion:  # a day before the tariff's first version: its first heating value
            return in_therms[service].versions[0].therms_per_ccf

    return charts(usage["usage"], before, first, end, heat)


@router.get("/accounts/{account_no}", response_class=HTMLResponse)
async def account_page(request: Request, target: tuple[int, str] = Depends(account),
                       who: Principal | None = Depends(optional_principal), message: str | None = None,
                       reported: int | None = None, problem: str | None = None):
    who = _signed_in(who)
    try:
        estimate = json.loads((await customer_api.estimate(request, target)).body)
    except HTTPException:  # no open billing period: no running estimate
        estimate = None
    data = await run_in_threadpool(_account_data, request, target)  # one hop to the thread pool for the rest
    summary, cases = data["account"], data["cases"]
    if reported is not None:
        made = next((c for c in cases if c["id"] == reported), None)
        message = f"Report received: case {made['id']}; a crew will look into it." if made else None
    elif not (message in ("Payment received.", "Preferences saved: a confirmation is on its way.",
                          "Nothing to change.", AUTOPAY_ON, AUTOPAY_OFF) or _ARRANGED.match(message or "")):
        message = None
    today = date.today()
    return _page(request, "account.html", who, title=f"Account {target[1]}", estimate=estimate,
                 idempotency_key=secrets.token_urlsafe(16), gb_start=(today - timedelta(days=30)).isoformat(),
                 gb_end=today.isoformat(), message=message, problem=PREFERENCE_PROBLEMS.get(problem or ""),
                 optional_notices=sorted(data["prefs"]["optional_notices"].items(), key=lambda item: item[1]),
                 services=_services_first(summary), **data)


def _account_data(request: Request, target: tuple[int, str]) -> dict:
    """What the account page shows besides the estimate, from the same services as the API."""
    summary = customer_api.account_summary(request, target)
    try:
        usage = customer_api.usage(request, target, "day", "cycle", None, None, None)
    except HTTPException:  # between periods: the last 30 days
        usage = customer_api.usage(request, target, "day", None, None, None, None)
    return {"account": summary, "charts": _usage_charts(request, target, usage, summary.get("services", [])),
            "bills": customer_api.bills(request, target, 24)["bills"],
            "payments": customer_api.payments(request, target, 20)["payments"],
            "cases": cases_api.my_cases(request, target)["cases"],
            "orders": orders_api.my_orders(request, target)["orders"],
            "prefs": preferences_api.show(request, target),
            "autopay": preferences_api.autopay_status(request, target),
            "arrangement": _arrangement_terms(request, target[0], summary["balance_minor"])}


@router.post("/accounts/{account_no}/pay")
def pay_form(request: Request, amount: str = Form(max_length=13), token: str = Form(max_length=64),
             idempotency_key: str = Form(max_length=64), target: tuple[int, str] = Depends(account),
             who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _signed_in(who)
    try:
        payment = customer_api.PaymentRequest(amount=amount, token=token, idempotency_key=idempotency_key)
    except ValueError:
        raise Problem(422, "bad_payment", "an amount like 42.10 and a payment token") from None
    customer_api.pay(request, payment, target, who)
    return RedirectResponse(f"/accounts/{target[1]}?message=Payment+received.", status_code=303)


_ARRANGED = re.compile(r"^(Arrangement granted: \d+ installments, the first due \d{4}-\d{2}-\d{2}\.|"
                       r"Your request went to our staff \(case \d+\): [a-z0-9 %,.'-]{1,200}|"
                       r"Request received \(case \d+\): (done|our staff will confirm it)\.)$")


def _arrangement_terms(request: Request, account_id: int, balance_minor: int) -> dict:
    from billing.arrangement_requests import minimum_down
    from billing.entities import entity_for
    from storage.accounts import billing_entity_of

    with request.app.state.pool.connection() as conn:
        entity = entity_for(request.app.state.entities, billing_entity_of(conn, account_id))
    return {"max_installments": entity.arrangement_max_installments, "every_days": entity.arrangement_every_days,
            "minimum_down_minor": minimum_down(max(balance_minor, 0), entity)}


@router.post("/accounts/{account_no}/arrangement")
def arrangement_form(request: Request, installments: int = Form(ge=1, le=60), down_payment: str = Form(max_length=13),
                     token: str = Form(max_length=64), idempotency_key: str = Form(max_length=64),
                     target: tuple[int, str] = Depends(account), who: Principal | None = Depends(optional_principal)):
    """Ask for a payment arrangement from the account page (the API's request)."""
    from urllib.parse import quote

    _same_origin(request)
    who = _signed_in(who)
    try:
        body = arrangements_api.ArrangementAsk(installments=installments, down_payment=down_payment, token=token,
                                               idempotency_key=idempotency_key)
    except ValueError:
        raise Problem(422, "bad_arrangement", "a number of installments, an amount like 40.00 and a card") from None
    answer = arrangements_api.ask(request, body, target, who)
    if isinstance(answer, Response):  # not granted at once: a case for staff
        said = json.loads(answer.body)
        message = f"Your request went to our staff (case {said['case_id']}): {said['why']}"
    else:
        message = (f"Arrangement granted: {len(answer['installments'])} installments, the first due "
                   f"{answer['installments'][0]['due_on']}.")
    return RedirectResponse(f"/accounts/{target[1]}?message={quote(message)}", status_code=303)


PREFERENCE_PROBLEMS = {"email_required": "Bills by e-mail need an e-mail address.",
                       "bad_email": "That e-mail address does not look right.",
                       "bad_delivery": "Paperless bills come by e-mail or on this website.",
                       "bad_preference": "That phone number does not look right."}


@router.post("/accounts/{account_no}/preferences")
def preferences_form(request: Request, delivery: str = Form(max_length=16), email: str = Form("", max_length=254),
                     phone: str = Form("", max_length=40), paperless: str = Form("", max_length=8),
                     notice: list[str] = Form(default=[], max_length=20), target: tuple[int, str] = Depends(account),
                     who: Principal | None = Depends(optional_principal)):
    """Bill delivery, paperless, contact details and notices from the account page (the API's change)."""
    from cis.notices import optional_kinds

    _same_origin(request)
    who = _signed_in(who)
    optional = optional_kinds()
    kept = {k for k in notice if k in optional}
    off = sorted({k for k in optional if k not in kept})
    try:
        body = preferences_api.Change(delivery=delivery, paperless=bool(paperless), email=email, phone=phone,
                                      notices_off=off)
    except ValueError:
        raise Problem(422, "bad_preference", "bills by post, e-mail or this website") from None
    try:
        done = preferences_api.change(request, body, target, who)
    except M2CError as refused:
        return RedirectResponse(f"/accounts/{target[1]}?problem={refused.code}#preferences", status_code=303)
    said = "Preferences saved: a confirmation is on its way." if done["changed"] else "Nothing to change."
    return RedirectResponse(f"/accounts/{target[1]}?message={said}", status_code=303)


AUTOPAY_ON = "Autopay is on: each bill is paid on its due date. A confirmation is on its way."
AUTOPAY_OFF = "Autopay is off."


@router.post("/accounts/{account_no}/autopay")
def autopay_form(request: Request, action: str = Form(max_length=4), token: str = Form("", max_length=64),
                 target: tuple[int, str] = Depends(account), who: Principal | None = Depends(optional_principal)):
    """Autopay on (with a card's gateway token) or off from the account page (the API's enrollment)."""
    _same_origin(request)
    who = _signed_in(who)
    if action not in ("on", "off") or (action == "on" and not token.strip()):
        raise Problem(422, "bad_autopay", "autopay on with a card, or off")
    body = preferences_api.Autopay(token=token.strip() if action == "on" else None)
    preferences_api.autopay(request, body, target, who)
    from urllib.parse import quote

    said = quote(AUTOPAY_ON if action == "on" else AUTOPAY_OFF)
    return RedirectResponse(f"/accounts/{target[1]}?message={said}#autopay", status_code=303)


@router.post("/accounts/{account_no}/service-request")
def service_request_form(request: Request, action: str = Form(max_length=8), service: str = Form(max_length=16),
                         on: str = Form(max_length=10), to_address: str = Form("", max_length=500),
                         target: tuple[int, str] = Depends(account),
                         who: Principal | None = Depends(optional_principal)):
    """Stop, move or start service from the account page (the API's request)."""
    from urllib.parse import quote

    _same_origin(request)
    who = _signed_in(who)
    try:
        body = cases_api.ServiceRequest(action=action, service=service, on=date.fromisoformat(on),
                                        to_address=to_address.strip() or None)
    except ValueError:
        raise Problem(422, "bad_request", "say stop, move or start, the service and the day") from None
    made = cases_api.service_request(request, body, target, who)
    said = "done" if made["done"] else "our staff will confirm it"
    message = f"Request received (case {made['case_id']}): {said}."
    return RedirectResponse(f"/accounts/{target[1]}?message={quote(message)}", status_code=303)


@router.post("/accounts/{account_no}/report")
async def report_form(request: Request, kind: str = Form(max_length=16), service: str = Form(max_length=16),
                      description: str = Form(max_length=2000), photo: UploadFile | None = File(None),
                      target: tuple[int, str] = Depends(account), who: Principal | None = Depends(optional_principal)):
    """A leak or outage report from the account page: the API's report (a case and an investigate order)."""
    _same_origin(request)
    who = _signed_in(who)
    if kind not in ("leak", "outage") or service not in ("electric", "water", "gas") or len(description.strip()) < 3:
        raise Problem(422, "bad_report", "say what (a leak or an outage), for which service, and what you see")
    made = await cases_api.report(request, target, who, kind, service, description, photo)
    return RedirectResponse(f"/accounts/{target[1]}?reported={made['case_id']}", status_code=303)


@router.get("/accounts/{account_no}/bills/{bill_id}", response_class=HTMLResponse)
def bill_page(request: Request, bill_id: int = Path(ge=1, le=2**62), target: tuple[int, str] = Depends(account)):
    return customer_api.bill(request, bill_id, target, "html")


SEARCH_PAGE = 20


@router.get("/staff", response_class=HTMLResponse)
async def staff_page(request: Request, q: str | None = None, offset: int = Query(0, ge=0, le=10**9),
                     who: Principal | None = Depends(optional_principal)):
    who = _staff(who)
    found = None
    if q and 2 <= len(q) <= 64:
        found = await run_in_threadpool(staff_accounts_api.search, request, q, SEARCH_PAGE, offset, who)
    exceptions = await run_in_threadpool(staff_api.exceptions, request, who, "open", None, None, None, None, 100,
                                         0, "oldest", None)
    payments = await run_in_threadpool(staff_api.payment_exceptions, request, who, 1, 0)
    runs = await run_in_threadpool(staff_api.bill_runs, request, who, 10, 0)
    return _page(request, "staff.html", who, title="Staff", q=q, found=found, exceptions=exceptions["exceptions"],
                 payment_exceptions=payments["total"], runs=runs["bill_runs"])


def _records_page(request: Request, who: Principal, status: int = 200, error: M2CError | None = None,
                  message: str | None = None, form: dict | None = None, finals: list | None = None) -> HTMLResponse:
    from storage.customers import cycle_codes

    with request.app.state.pool.connection() as conn:
        cycles = cycle_codes(conn)
    return _page(request, "staff_records.html", who, status, title="Customer records", cycles=cycles,
                 zone=request.app.state.settings.utility_zone, form=form or {}, message=message, finals=finals,
                 error=None if error is None else {"code": error.code, "message": first_line(error)})


def _refused(request: Request, who: Principal, error: Exception, form: dict | None = None) -> HTMLResponse:
    """The records page again with the refusal: a workflow's with its code and status, or a field the
    form cannot hold (a why under three letters, an unknown kind, a number that is not one)."""
    if not isinstance(error, M2CError):
        error = RequestRefused(str(error).splitlines()[0])
    return _records_page(request, who, error.status, error, form=form)


@router.get("/staff/records", response_class=HTMLResponse)
def records_page(request: Request, premise: int | None = None, who: Principal | None = Depends(optional_principal)):
    """Open an account, add a premise: the same workflows as ``m2c accounts open`` and ``m2c premises add``."""
    who = _staff(who)
    return _records_page(request, who, message=f"Premise {premise} added." if premise else None)


@router.post("/staff/records/accounts")
def open_account_form(request: Request, cycle: str = Form(max_length=32), why: str = Form(max_length=500),
                      name: str = Form("", max_length=200), customer_id: str = Form("", max_length=19),
                      kind: str = Form("person", max_length=16), email: str = Form("", max_length=254),
                      delivery: str = Form("print", max_length=16), paperless: str = Form("", max_length=8),
                      who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    form = {"cycle": cycle, "why": why, "name": name, "customer_id": customer_id, "kind": kind, "email": email,
            "delivery": delivery, "paperless": bool(paperless)}
    try:
        body = records_api.OpenAccount(cycle=cycle, why=why, name=name.strip() or None, kind=kind,
                                       customer_id=int(customer_id) if customer_id.strip().isdigit() else None,
                                       email=email.strip() or None, delivery=delivery, paperless=bool(paperless))
        opened = records_api.open_account(request, body, who)
    except (M2CError, ValueError) as error:
        return _refused(request, who, error, form)
    return RedirectResponse(f"/staff/accounts/{opened['account_no']}", status_code=303)


@router.post("/staff/records/premises")
def add_premise_form(request: Request, address: str = Form(max_length=500), why: str = Form(max_length=500),
                     zone: str = Form("", max_length=64), who: Principal | None = Depends(optional_principal)):
    _same_origin(request)
    who = _staff(who)
    try:
        added = records_api.add_premise(request, records_api.AddPremise(address=address, zone=zone.strip() or None,
                                                                        why=why), who)
    except (M2CError, ValueError) as error:
        return _refused(request, who, error)
    return RedirectResponse(f"/staff/records?premise={added['premise_id']}", status_code=303)


def _moment(request: Request, text: str):
    """A browser's datetime-local field is the utility's wall clock; an offset given is kept."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(request.app.state.settings.utility_zone))


@router.post("/staff/records/meters")
def meter_form(request: Request, action: str = Form(max_length=16), meter: str = Form(max_length=64),
               at: str = Form(max_length=40), why: str = Form(max_length=500), new: str = Form("", max_length=64),
               premise_id: str = Form("", max_length=19), service: str = Form("electric", max_length=16),
               unit: str = Form("Wh", max_length=8), interval_s: str = Form("900", max_length=6),
               who: Principal | None = Depends(optional_principal)):
    """Install, exchange or remove a meter: the same workflows as ``m2c meters install|exchange|remove``."""
    _same_origin(request)
    who = _staff(who)
    try:
        if action == "exchange":
            done = lifecycle_api.exchange_meter(request, lifecycle_api.ExchangeMeter(
                old=meter.strip(), new=new.strip(), at=_moment(request, at), why=why), who)["new"]
            message = f"Meter {meter.strip()} exchanged for {done['meter']} at {at}."
        elif action == "remove":
            done = lifecycle_api.remove_meter(request, lifecycle_api.RemoveMeter(
                meter=meter.strip(), at=_moment(request, at), why=why), who)
            message = f"Meter {done['meter']} removed from service point {done['service_point_id']} at {at}."
        else:
            done = lifecycle_api.install_meter(request, lifecycle_api.InstallMeter(
                meter=meter.strip(), premise_id=int(premise_id), service=service, unit=unit,
                interval_s=int(interval_s), at=_moment(request, at), why=why), who)
            message = f"Meter {done['meter']} installed at service point {done['service_point_id']}."
    except (M2CError, ValueError) as error:
        return _refused(request, who, error)
    return _records_page(request, who, message=message)


@router.post("/staff/records/final-bills")
def final_bills_form(request: Request, who: Principal | None = Depends(optional_principal)):
    """Issue the final bills that are ready: the same workflow as ``m2c bills final``."""
    _same_origin(request)
    who = _staff(who)
    if not who.at_least("supervisor"):
        refused = RoleRequired("issuing final bills needs the supervisor role")
        return _records_page(request, who, refused.status, refused)
    finals = lifecycle_api.final_bills(request, who)["final_bills"]
    issued = sum(f["status"] == "billed" for f in finals)
    return _records_page(request, who, message=f"{issued} final bills issued, "
                                               f"{sum(f['status'] == 'waiting' for f in finals)} waiting.",
                         finals=finals)


@router.post("/staff/records/service")
def service_form(request: Request, action: str = Form(max_length=16), account_no: str = Form(max_length=32),
                 premise_id: str = Form(max_length=19), service: str = Form(max_length=16), on: str = Form(max_length=10),
                 why: str = Form(max_length=500), tariff: str = Form("", max_length=64),
                 to_premise_id: str = Form("", max_length=19), waive_deposit: str = Form("", max_length=500),
                 final_read: str = Form("", max_length=32), who: Principal | None = Depends(optional_principal)):
    """Start, stop or move service: the same workflows as ``m2c service start|stop|transfer``."""
    from datetime import date

    _same_origin(request)
    who = _staff(who)
    try:
        if action == "start":
            started = lifecycle_api.start_service(request, lifecycle_api.StartService(
                account_no=account_no.strip(), premise_id=int(premise_id), service=service, tariff=tariff.strip(),
                on=date.fromisoformat(on), waive_deposit=waive_deposit.strip() or None, why=why), who)
            deposit = started["deposit"]
            message = (f"Service {started['agreement_id']} starts on {on} ({started['status']}); deposit "
                       f"{deposit['status']}" + (f" {deposit['amount_minor'] / 100:.2f}" if deposit["amount_minor"] else "")
                       + ".")
        else:
            stopped = lifecycle_api.stop_service(request, lifecycle_api.StopService(
                account_no=account_no.strip(), premise_id=int(premise_id), service=service, on=date.fromisoformat(on),
                to_premise_id=int(to_premise_id) if action == "transfer" and to_premise_id.strip() else None,
                tariff=tariff.strip() or None, final_read=final_read.strip() or None, why=why), who)
            read = stopped["final_read"]
            message = f"Service {stopped['agreement_id']} stopped: last day served {stopped['last_day']}" + (
                f"; service {stopped['started_agreement_id']} starts at premise {to_premise_id} on {on}"
                if stopped["started_agreement_id"] else "") + (
                f"; final read of meter {read['meter']} stored ({read['daily_reads']} day(s) billed from it)."
                if read else ".")
    except (M2CError, ValueError) as error:
        return _refused(request, who, error)
    return _records_page(request, who, message=message)
