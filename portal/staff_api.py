"""Staff API (``/api/v1/staff/...``), by role: clerks search accounts, work the VEE and payment
exception queues and validate tariffs; supervisors also release and edit reads, publish tariffs and
start bill runs; admins read the audit log. Every change is in the audit log."""
from __future__ import annotations

import difflib
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from billing.postings import account_balance
from portal.audit import record
from portal.problems import Problem
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, staff
from storage import staff_views as views
from storage.accounts import account_id_of, account_no_of

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the action")


@router.get("/accounts/{account_no}")
def account_view(request: Request, account_no: str = Path(pattern=ACCOUNT_NO),
                 who: Principal = Depends(staff("clerk"))) -> dict:
    """Services, meters and their latest reads, bills, ledger, notices of one account."""
    with request.app.state.pool.connection() as conn:
        row = views.account_row(conn, account_no)
        if row is None:
            raise Problem(404, "no_such_account", "no such account")
        account_id = row[0]
        meters = views.account_meters(conn, account_id)
        bills = views.recent_bills(conn, account_id)
        ledger = views.recent_ledger(conn, account_id)
        notices = views.recent_notices(conn, account_id)
        balance = account_balance(conn, account_id)
        exceptions = views.open_exception_count(conn, account_id)
    return {
        "account_no": account_no, "customer_name": row[1], "email": row[2], "zone": row[3], "currency": row[4],
        "delivery_channel": row[5], "billing_entity": row[6], "open_exceptions": exceptions,
        "balance_minor": balance,
        "meters": [{"service": r[0], "meter_no": r[1], "unit": r[2], "power_of_ten": r[3], "interval_s": r[4],
                    "last_read_day": r[5].isoformat() if r[5] else None} for r in meters],
        "bills": [{"id": r[0], "period_start": r[1].isoformat(), "current_charges_minor": r[2], "total_due_minor": r[3],
                   "status": r[4], "due_date": r[5].isoformat() if r[5] else None} for r in bills],
        "ledger": [{"transaction_id": r[0], "ledger_account": r[1], "amount_minor": r[2], "entry_type": r[3],
                    "bill_id": r[4], "payment_id": r[5], "posted_at": r[6].isoformat(), "memo": r[7]} for r in ledger],
        "notices": [{"id": r[0], "kind": r[1], "subject": r[2], "created_at": r[3].isoformat(),
                     "delivered_at": r[4].isoformat() if r[4] else None} for r in notices]}


def _exception(row) -> dict:
    return {"id": row.id, "meter_no": row.meter_no, "account_no": row.account_no, "channel": row.channel,
            "block_start": row.block_start.isoformat(), "interval_s": row.interval_s, "rules": row.rules,
            "severity": row.severity, "flagged_count": row.flagged_count, "status": row.status}


Status = Literal["open", "accepted", "released", "overridden", "estimated", "all"]
Severity = Literal["information", "issue", "blocks_billing"]
RULE = Query(None, max_length=40, pattern=r"^[a-z_]+$")
METER = Query(None, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")


def _filter(status: str, rule, severity, account_no, meter_no, older_than_days):
    from storage.vee_queue import QueueFilter

    older = datetime.now(timezone.utc) - timedelta(days=older_than_days) if older_than_days else None
    return QueueFilter(None if status == "all" else status, rule, severity, account_no, meter_no, older)


@router.get("/exceptions")
def exceptions(request: Request, who: Principal = Depends(staff("clerk")), status: Status = "open",
               rule: str | None = RULE, severity: Severity | None = None,
               account_no: str | None = Query(None, pattern=ACCOUNT_NO), meter_no: str | None = METER,
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
               sort: Literal["oldest", "newest", "severity", "meter"] = "oldest",
               older_than_days: int | None = Query(None, ge=1, le=3650, description="raised more than this ago")
               ) -> dict:
    """The exception queue filtered by status, rule, severity, account, meter and age; sorted; a page
    with the total."""
    from storage import vee_queue as queue

    chosen = _filter(status, rule, severity, account_no, meter_no, older_than_days)
    with request.app.state.pool.connection() as conn:
        rows = queue.list_exceptions(conn, chosen.status, rule, severity, account_no, meter_no, limit, offset, sort,
                                     chosen.older_than)
        total = queue.summarize(conn, chosen)[0]
    return {"total": total, "limit": limit, "offset": offset, "exceptions": [_exception(r) for r in rows]}


class Bulk(BaseModel):
    action: Literal["accept", "release", "reopen"]
    why: str = WHY
    status: Status = "open"
    rule: str | None = Field(None, max_length=40, pattern=r"^[a-z_]+$")
    severity: Severity | None = None
    account_no: str | None = Field(None, pattern=ACCOUNT_NO)
    meter_no: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")
    older_than_days: int | None = Field(None, ge=1, le=3650)
    apply: bool = Field(False, description="false: only say what it would change")


BULK_EFFECT = {"accept": "accept {n} exceptions ({reads} flagged reads): they leave the queue, the reads stay as "
                         "stored",
               "release": "release {n} exceptions ({reads} flagged reads) to billing: the reads are billed as stored",
               "reopen": "reopen {n} exceptions: they return to the queue as open"}


@router.post("/exceptions/bulk")
def bulk(request: Request, body: Bulk, who: Principal = Depends(staff("clerk"))) -> dict:
    """One action on every exception of a filtered set (accept: clerk; release, reopen: supervisor):
    first what it would change (``apply`` false), then the action."""
    from storage import vee_queue as queue
    from vee import queue as actions

    if body.action != "accept" and not who.at_least("supervisor"):
        raise Problem(403, "role_required", f"{body.action} needs the supervisor role or above")
    if body.action != "reopen" and body.status != "open":
        raise Problem(422, "bad_filter", f"only open exceptions can be {body.action}ed")
    chosen = _filter(body.status, body.rule, body.severity, body.account_no, body.meter_no, body.older_than_days)
    with request.app.state.pool.connection() as conn:
        count, reads, ids = queue.summarize(conn, chosen)
        said = BULK_EFFECT[body.action].format(n=f"{count:,}", reads=f"{reads:,}")
        if not body.apply or not ids:
            return {"applied": False, "matching": count, "flagged_reads": reads, "will": said, "first_ids": ids[:20]}
        moved = actions.act(conn, ids, body.action, who.username, body.why, {"bulk": True})
        record(conn, who, f"exception.bulk_{body.action}", None, {"why": body.why, "moved": moved,
                                                                   "filter": body.model_dump(exclude={"why"})})
    return {"applied": True, "matching": count, "moved": moved, "flagged_reads": reads, "will": said}


@router.get("/exceptions/{exception_id}")
def exception(request: Request, exception_id: int = Path(ge=1, le=2**62), who: Principal = Depends(staff("clerk"))) -> dict:
    """One exception with its evidence: the block's values and per-interval rule flags, each slot against
    the mean of the meter's like days (the same weekday of the four weeks before), and its history."""
    from storage import vee_queue as queue
    from vee.queue import evidence

    with request.app.state.pool.connection() as conn:
        row = queue.get_exception(conn, exception_id)
        if row is None:
            raise Problem(404, "no_such_exception", "no such exception")
        history = queue.history(conn, exception_id)
        shown = evidence(conn, row)
    body = _exception(row)
    body["values"], body["flags"] = row.values, row.flags
    body["evidence"] = shown
    body["history"] = [{"action": a, "actor": b, "reason": c, "details": d, "at": e.isoformat()}
                       for a, b, c, d, e in history]
    return body


class Action(BaseModel):
    why: str = WHY


class Override(BaseModel):
    why: str = WHY
    values: dict[int, int] = Field(min_length=1, max_length=10_000,
                                   description="interval position -> edited value, in the meter's stored unit")


@router.post("/exceptions/{exception_id}/override")
def override(request: Request, body: Override, exception_id: int = Path(ge=1, le=2**62),
             who: Principal = Depends(staff("supervisor"))) -> dict:
    from storage import vee_queue as queue
    from vee import queue as actions

    with request.app.state.pool.connection() as conn:
        if queue.get_exception(conn, exception_id) is None:
            raise Problem(404, "no_such_exception", "no such exception")
        written = actions.override(conn, exception_id, body.values, who.username, body.why)
        record(conn, who, "exception.override", str(exception_id), {"why": body.why, "values": body.values})
    return {"written": written}


@router.post("/exceptions/{exception_id}/{action}")
def act(request: Request, action: Literal["accept", "release", "reopen", "reestimate"], body: Action,
        exception_id: int = Path(ge=1, le=2**62), who: Principal = Depends(staff("clerk"))) -> dict:
    """accept (clerk), release / reopen / reestimate (supervisor)."""
    from storage import vee_queue as queue
    from vee import queue as actions
    from vee.gap_fill import reestimate_exception

    if action != "accept" and not who.at_least("supervisor"):
        raise Problem(403, "role_required", f"{action} needs the supervisor role or above")
    with request.app.state.pool.connection() as conn:
        if queue.get_exception(conn, exception_id) is None:
            raise Problem(404, "no_such_exception", "no such exception")
        if action == "reestimate":
            result = {"estimated": reestimate_exception(conn, exception_id, who.username, body.why)}
        else:
            result = {"moved": actions.act(conn, [exception_id], action, who.username, body.why)}
        record(conn, who, f"exception.{action}", str(exception_id), {"why": body.why, **result})
    return result


class TariffText(BaseModel):
    document: str = Field(min_length=10, max_length=200_000, description="the tariff in TOML")


def _parse(document: str):
    from rating.errors import TariffInvalid
    from rating.tariff import parse_tariff

    try:
        return parse_tariff(document, "request"), []
    except TariffInvalid as error:
        return None, [{"path": p.path, "code": p.code, "message": p.message} for p in error.problems]


@router.post("/tariffs/validate")
def validate_tariff(body: TariffText, who: Principal = Depends(staff("clerk"))) -> dict:
    tariff, problems = _parse(body.document)
    return {"valid": tariff is not None, "code": tariff.code if tariff else None,
            "versions": [v.effective_from.isoformat() for v in tariff.versions] if tariff else [],
            "problems": problems}


@router.post("/tariffs/diff")
def diff_tariff(request: Request, body: TariffText, who: Principal = Depends(staff("clerk"))) -> dict:
    """The document against the tariff of the same code as published now."""
    tariff, problems = _parse(body.document)
    if tariff is None:
        raise Problem(422, "tariff_invalid", f"{len(problems)} problem(s) in the tariff", problems=problems)
    with request.app.state.pool.connection() as conn:
        from storage.tariffs import tariff_document

        row = tariff_document(conn, tariff.code)
    old = row[1] if row else ""
    lines = list(difflib.unified_diff(old.splitlines(), body.document.splitlines(),
                                      f"{tariff.code}@{row[0]}" if row else "(none)", "proposed", lineterm=""))
    return {"code": tariff.code, "published_revision": row[0] if row else None, "diff": "\n".join(lines)}


class Publish(TariffText):
    why: str = WHY
    effective_from: date | None = Field(None, description="the date the newest version takes effect: checked "
                                                          "against the document")


@router.post("/tariffs/publish", status_code=201)
def publish_tariff(request: Request, body: Publish, who: Principal = Depends(staff("supervisor"))) -> dict:
    """Publish a tariff with why (each version carries its effective date; ``effective_from`` checks the
    newest); the same text again is the same revision."""
    from storage.tariffs import publish

    tariff, problems = _parse(body.document)
    if tariff is None:
        raise Problem(422, "tariff_invalid", f"{len(problems)} problem(s) in the tariff", problems=problems)
    newest = tariff.versions[-1].effective_from
    if body.effective_from is not None and body.effective_from != newest:
        raise Problem(422, "effective_date_mismatch", f"the newest version takes effect on {newest}, not "
                      f"{body.effective_from}: add a [[versions]] with effective_from = {body.effective_from}")
    with request.app.state.pool.connection() as conn:
        revision = publish(conn, body.document, "portal", published_by=who.username, reason=body.why)
        record(conn, who, "tariff.publish", tariff.code, {"revision": revision, "why": body.why,
                                                          "effective_from": newest.isoformat()})
    request.app.state.forget_tariffs()
    return {"code": tariff.code, "revision": revision}


class BillRunRequest(BaseModel):
    cycle: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,16}$")
    period_start: date | None = None


@router.post("/bill-runs", status_code=202)
def start_bill_run(request: Request, body: BillRunRequest, who: Principal = Depends(staff("supervisor"))) -> dict:
    """Start the bill run of a cycle's period (the oldest open one unless given); watch it with GET."""
    from billing.bill_run import find_period

    with request.app.state.pool.connection() as conn:
        period_id = find_period(conn, body.cycle, body.period_start)  # UnknownPeriod: 404
        record(conn, who, "bill_run.start", body.cycle, {"period_id": period_id})
    request.app.state.bill_runs.start(period_id, who.username)
    return {"billing_period_id": period_id, "status": "started"}


@router.get("/bill-runs")
def bill_runs(request: Request, who: Principal = Depends(staff("clerk")), limit: int = Query(20, ge=1, le=200),
              offset: int = Query(0, ge=0, le=10**9)) -> dict:
    with request.app.state.pool.connection() as conn:
        total, rows = views.bill_runs(conn, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "bill_runs": [_run(r) for r in rows]}


def _run(r) -> dict:
    return {"id": r[0], "cycle": r[1], "period_start": r[2].isoformat(), "status": r[3],
            "started_at": r[4].isoformat(), "finished_at": r[5].isoformat() if r[5] else None,
            "accounts_billed": r[6], "accounts_skipped": r[7], "accounts_failed": r[8], "total_minor": r[9],
            "error": r[10]}


@router.get("/bill-runs/{run_id}")
def bill_run(request: Request, run_id: int = Path(ge=1, le=2**62), who: Principal = Depends(staff("clerk"))) -> dict:
    """Progress (accounts by outcome so far, of the cycle's accounts) and the held accounts with reasons."""
    with request.app.state.pool.connection() as conn:
        row = views.bill_run(conn, run_id)
        if row is None:
            raise Problem(404, "no_such_bill_run", "no such bill run")
        outcomes, accounts, held = views.bill_run_progress(conn, run_id, row[11])
    body = _run(row[:11])
    body.update({"accounts_in_cycle": accounts, "outcomes": outcomes,
                 "done_share": round(sum(outcomes.values()) / accounts, 4) if accounts else 1.0,
                 "held": [{"account_no": a, "reason": r} for a, r in held]})
    return body


@router.get("/payments/exceptions")
def payment_exceptions(request: Request, who: Principal = Depends(staff("clerk")),
                       limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=10**9)) -> dict:
    with request.app.state.pool.connection() as conn:
        total, rows = views.payment_exceptions(conn, limit, offset)
    return {"total": total, "limit": limit, "offset": offset, "payments": [{"id": r[0], "channel": r[1], "reference": r[2], "account_ref": r[3], "invoice_ref": r[4],
                          "amount_minor": r[5], "currency": r[6], "received_on": r[7].isoformat(), "reason": r[8]}
                         for r in rows]}


class Match(BaseModel):
    account_no: str | None = Field(None, pattern=ACCOUNT_NO)
    invoice_no: int | None = Field(None, ge=1, le=2**62, description="or the bill the payment is for")
    why: str = WHY


@router.post("/payments/{payment_id}/match")
def match(request: Request, body: Match, payment_id: int = Path(ge=1, le=2**62), who: Principal = Depends(staff("clerk"))) -> dict:
    """Apply an unmatched payment to an account, named or found by the bill (invoice) it is for."""
    from billing.payments import match_payment
    from storage.bill_records import bill

    if (body.account_no is None) == (body.invoice_no is None):
        raise Problem(422, "account_or_invoice", "name the account or the invoice, one of them")
    with request.app.state.pool.connection() as conn:
        if body.invoice_no is not None:
            found = bill(conn, body.invoice_no)
            if found is None:
                raise Problem(404, "no_such_bill", f"no bill {body.invoice_no}")
            body.account_no = account_no_of(conn, found["account_id"])
        account_id = account_id_of(conn, body.account_no)
        if account_id is None:
            raise Problem(404, "no_such_account", "no such account")
        match_payment(conn, payment_id, account_id, who.username, body.why, datetime.now(timezone.utc),
                      request.app.state.entities)
        record(conn, who, "payment.match", str(payment_id), {"account_no": body.account_no, "why": body.why})
    return {"payment_id": payment_id, "status": "applied", "account_no": body.account_no}


@router.get("/audit")
def audit(request: Request, who: Principal = Depends(staff("admin")), limit: int = Query(100, ge=1, le=1000)) -> dict:
    with request.app.state.pool.connection() as conn:
        rows = views.audit_entries(conn, limit)
    return {"entries": [{"id": r[0], "username": r[1], "action": r[2], "target": r[3], "details": r[4],
                         "at": r[5].isoformat()} for r in rows]}
