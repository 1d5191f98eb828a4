"""Customer contacts and cases in the API: staff log contacts and work cases; a customer sees their own
account's cases and reports a leak or an outage (a case and an investigate order, with an optional
photo). The same ``cis.cases`` and ``cis.orders`` workflows as the command line."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import account, principal, staff
from portal.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["contacts and cases"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the change")
CASE_ID = Path(ge=1, le=2**62)
Channel = Literal["phone", "email", "portal", "walk_in", "letter", "field"]
Reason = Literal["billing_question", "payment", "high_bill", "leak", "outage", "move", "dispute", "service_order",
                 "complaint", "other"]
Kind = Literal["high_bill", "leak_report", "billing_dispute", "move_request", "outage", "arrangement_request", "other"]
Status = Literal["open", "in_progress", "waiting_customer", "closed"]
PHOTO_LIMIT = 2 * 1024 * 1024  # bytes
PHOTO_TYPES = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}


class Link(BaseModel):
    kind: Literal["bill", "order", "exception"]
    id: int = Field(ge=1, le=2**62)


class NewContact(BaseModel):
    channel: Channel
    reason: Reason
    notes: str = Field("", max_length=4000)
    case_id: int | None = Field(None, ge=1, le=2**62)


@router.post("/staff/accounts/{account_no}/contacts", status_code=201)
def log_contact(request: Request, body: NewContact, account_no: str = Path(max_length=32),
                who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import log_contact as log

    with request.app.state.pool.connection() as conn:
        contact_id = log(conn, account_no, body.channel, body.reason, body.notes, who.username, body.case_id)
    return {"contact_id": contact_id, "account_no": account_no}


@router.get("/staff/accounts/{account_no}/contacts")
def list_contacts(request: Request, account_no: str = Path(max_length=32), limit: int = Query(50, ge=1, le=500),
                  offset: int = Query(0, ge=0, le=10**9), who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import contacts

    with request.app.state.pool.connection() as conn:
        total, found = contacts(conn, account_no, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "contacts": found}


class NewCase(BaseModel):
    account_no: str = Field(min_length=1, max_length=32)
    kind: Kind
    summary: str = Field(min_length=3, max_length=2000)
    owner: str | None = Field(None, max_length=64)
    due_on: date | None = None
    channel: Channel | None = Field(None, description="the contact that raised it, logged with it")
    links: list[Link] = Field(default_factory=list, max_length=50)


@router.post("/staff/cases", status_code=201)
def open_case(request: Request, body: NewCase, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import open_case as open_

    with request.app.state.pool.connection() as conn:
        case = open_(conn, body.account_no, body.kind, body.summary, who.username, today=date.today(),
                     owner=body.owner, due_on=body.due_on, links=[(link.kind, link.id) for link in body.links],
                     channel=body.channel)
        record(conn, who, "case.open", str(case.id), {"why": body.summary, "kind": body.kind})
    return case.document(date.today())


@router.get("/staff/cases")
def list_cases(request: Request, status: list[Status] = Query(default=[]),
               owner: str | None = Query(None, max_length=64),
               account_no: str | None = Query(None, max_length=32), kind: Kind | None = None, overdue: bool = False,
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
               who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import listing

    today = date.today()
    with request.app.state.pool.connection() as conn:
        total, found = listing(conn, status=list(status) or ["open", "in_progress", "waiting_customer"], owner=owner,
                               account_no=account_no, kind=kind, overdue_on=today if overdue else None, limit=limit,
                               offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "cases": [c.document(today) for c in found]}


@router.get("/staff/cases/{case_id}")
def show_case(request: Request, case_id: int = CASE_ID, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import get, history
    from storage.cases import request_of

    with request.app.state.pool.connection() as conn:
        return {**get(conn, case_id).document(date.today()), "history": history(conn, case_id),
                "request": request_of(conn, case_id) or None}


class CaseChange(BaseModel):
    why: str = WHY
    owner: str | None = Field(None, max_length=64)
    status: Literal["open", "in_progress", "waiting_customer"] | None = None
    due_on: date | None = None
    links: list[Link] = Field(default_factory=list, max_length=50)


@router.post("/staff/cases/{case_id}")
def update_case(request: Request, body: CaseChange, case_id: int = CASE_ID,
                who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import update_case as update

    with request.app.state.pool.connection() as conn:
        case = update(conn, case_id, who.username, body.why, owner=body.owner, status=body.status, due_on=body.due_on,
                      links=[(link.kind, link.id) for link in body.links], today=date.today())
        record(conn, who, "case.update", str(case_id), {"why": body.why})
    return case.document(date.today())


class CaseClose(BaseModel):
    resolution: str = Field(min_length=3, max_length=2000, description="what was done: the customer is told")


@router.post("/staff/cases/{case_id}/close")
def close_case(request: Request, body: CaseClose, case_id: int = CASE_ID,
               who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.cases import close_case as close

    with request.app.state.pool.connection() as conn:
        case = close(conn, case_id, body.resolution, who.username)
        record(conn, who, "case.close", str(case_id), {"why": body.resolution})
    return case.document(date.today())


@router.get("/accounts/{account_no}/cases")
def my_cases(request: Request, found: tuple[int, str] = Depends(account)) -> dict:
    """The account's cases as the customer may see them: what, status, due, the resolution."""
    from cis.cases import listing

    with request.app.state.pool.connection() as conn:
        total, cases = listing(conn, status=list(("open", "in_progress", "waiting_customer", "closed")),
                               account_no=found[1], limit=100)
    return {"total": total, "cases": [{k: c.document()[k] for k in (
        "id", "kind", "status", "summary", "due_on", "resolution", "opened_at", "closed_at")} for c in cases]}


def report_problem(conn, account_id: int, account_no: str, who: Principal, kind: str, service: str, description: str,
                   photo: tuple[str, bytes] | None) -> dict:
    """A customer's leak or outage report: a case (kind ``leak_report`` or ``outage``) with the contact
    logged, an investigate order at the account's service point for the service, linked to the case."""
    from cis import cases, orders
    from storage.cases import attach_photo
    from storage.orders import account_points

    point = next((p for p in account_points(conn, account_id) if p[1] == service), None)
    if point is None:
        raise Problem(422, "no_such_service", f"the account has no {service} service")
    today = date.today()
    case_kind = "leak_report" if kind == "leak" else "outage"
    with conn.transaction():
        case = cases.open_case(conn, account_no, case_kind, description, who.username, today=today, channel="portal")
        order = orders.active_or_new(conn, "investigate", point[0], account_id, who.username,
                                     f"customer reports {'a leak' if kind == 'leak' else 'an outage'}: {description}",
                                     today=today, source="portal")
        cases.update_case(conn, case.id, who.username, "investigate order made", links=[("order", order)])
        if photo is not None:
            attach_photo(conn, case.id, photo[0], photo[1])
    return {"case_id": case.id, "order_id": order, "photo": photo is not None}


@router.post("/accounts/{account_no}/reports", status_code=201)
async def report(request: Request, found: tuple[int, str] = Depends(account), who: Principal = Depends(principal),
                 kind: Literal["leak", "outage"] = Form(), service: Literal["electric", "water", "gas"] = Form(),
                 description: str = Form(min_length=3, max_length=2000), photo: UploadFile | None = File(None)):
    """Report a leak or an outage of service (with an optional JPEG or PNG photo of at most 2 MiB)."""
    from starlette.concurrency import run_in_threadpool

    picture = None
    if photo is not None and photo.filename:
        data = await photo.read(PHOTO_LIMIT + 1)
        if len(data) > PHOTO_LIMIT:
            raise Problem(413, "photo_too_large", f"a photo may be at most {PHOTO_LIMIT // (1024 * 1024)} MiB")
        kind_of = next((t for t, magic in PHOTO_TYPES.items() if data.startswith(magic)), None)
        if kind_of is None:
            raise Problem(415, "photo_type", "a photo is a JPEG or PNG image")
        picture = (kind_of, data)

    def work() -> dict:
        with request.app.state.pool.connection() as conn:
            done = report_problem(conn, found[0], found[1], who, kind, service, description.strip(), picture)
            record(conn, who, f"report.{kind}", found[1], {"why": description.strip()[:200], **done})
            return done

    return await run_in_threadpool(work)


class ServiceRequest(BaseModel):
    action: Literal["stop", "move", "start"]
    service: Literal["electric", "water", "gas"]
    on: date = Field(description="stop: the first day no longer served; move: the day of the move; start: the "
                                 "first day served")
    to_address: str | None = Field(None, max_length=500, description="a move or a start: the new address")


@router.post("/accounts/{account_no}/service-requests", status_code=201)
def service_request(request: Request, body: ServiceRequest, found: tuple[int, str] = Depends(account),
                    who: Principal = Depends(principal)) -> dict:
    """Stop service, move it, or start it at another address too: a case, carried out at once where the
    billing entity allows it (else when staff confirm it)."""
    from billing.deposits import charging_deposits
    from billing.entities import entity_for
    from cis.service_requests import ask
    from storage.accounts import billing_entity_of

    with request.app.state.pool.connection() as conn:
        entity = entity_for(request.app.state.entities, billing_entity_of(conn, found[0]))
        made = ask(conn, found[1], body.action, body.service, body.on, who.username, today=date.today(),
                   to_address=body.to_address, zone=request.app.state.settings.utility_zone,
                   at_once=entity.self_service_moves,
                   on_start=charging_deposits(conn, request.app.state.entities, who.username,
                                              "service started on the customer's request",
                                              datetime.now(timezone.utc)))
        record(conn, who, f"service_request.{body.action}", found[1], {"why": "customer request", **made})
    return {"case_id": made["case_id"], "status": "done" if made["done"] else "waiting for staff",
            "done": made["done"]}


class Confirm(BaseModel):
    why: str = WHY
    tariff: str | None = Field(None, max_length=64, description="a move or a start: the new agreement's tariff "
                               "(default: the account's own for the service)")


@router.post("/staff/cases/{case_id}/confirm")
def confirm_request(request: Request, body: Confirm, case_id: int = CASE_ID,
                    who: Principal = Depends(staff("clerk"))) -> dict:
    from billing.deposits import charging_deposits
    from cis.service_requests import confirm

    with request.app.state.pool.connection() as conn:
        done = confirm(conn, case_id, who.username, body.why, body.tariff,
                       on_start=charging_deposits(conn, request.app.state.entities, who.username, body.why,
                                                  datetime.now(timezone.utc)))
        record(conn, who, "case.confirm", str(case_id), {"why": body.why, **done})
    return {"case_id": case_id, "done": done}
