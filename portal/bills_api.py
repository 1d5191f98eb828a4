"""Staff work on bills in the API: one bill with its lines; cancel it, or cancel and rebill it with the
difference line by line; the corrections late reads raised; and an account a bill run held, released
(its blocking exceptions released to billing, with why) and billed. Supervisors change bills; each
change is in the audit log."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import ACCOUNT_NO, staff
from portal.problems import Problem

router = APIRouter(prefix="/api/v1/staff", tags=["staff"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the change")
BILL_ID = Path(ge=1, le=2**62)


class Why(BaseModel):
    why: str = WHY


@router.get("/bills/{bill_id}")
def show_bill(request: Request, bill_id: int = BILL_ID, who: Principal = Depends(staff("clerk"))) -> dict:
    from storage import bill_records as records
    from storage.accounts import account_no_of

    with request.app.state.pool.connection() as conn:
        bill = records.bill(conn, bill_id)
        if bill is None:
            raise Problem(404, "no_such_bill", f"no bill {bill_id}")
        lines = records.bill_lines(conn, bill_id)
        account_no = account_no_of(conn, bill["account_id"])
    return {"id": bill_id, "account_no": account_no, "status": bill["status"], "kind": bill["kind"],
            "period_start": bill["period_start"].isoformat(), "period_end": bill["period_end"].isoformat(),
            "total_minor": bill["total_minor"], "total_due_minor": bill["total_due_minor"],
            "currency": bill["currency"], "rebill_of": bill["rebill_of"], "cancel_reason": bill["cancel_reason"],
            "lines": [{"service": s, "description": d, "quantity": None if q is None else format(q, "f"), "unit": u,
                       "price": None if p is None else str(p), "amount_minor": a}
                      for _, s, d, q, u, p, a, _ in lines]}


@router.post("/bills/{bill_id}/cancel")
def cancel(request: Request, body: Why, bill_id: int = BILL_ID, who: Principal = Depends(staff("supervisor"))) -> dict:
    from billing.corrections import cancel_bill

    with request.app.state.pool.connection() as conn:
        transaction = cancel_bill(conn, bill_id, who.username, body.why, datetime.now(timezone.utc))
        record(conn, who, "bill.cancel", str(bill_id), {"why": body.why, "transaction_id": transaction})
    return {"bill_id": bill_id, "status": "cancelled", "reversal_transaction_id": transaction}


@router.post("/bills/{bill_id}/rebill")
def rebill(request: Request, body: Why, bill_id: int = BILL_ID, who: Principal = Depends(staff("supervisor"))) -> dict:
    """Cancel the bill (unless it was) and bill its account's period again from the reads as they are
    now; the answer says what changed line by line."""
    from billing.rebill import rebill as redo

    with request.app.state.pool.connection() as conn:
        done = redo(conn, bill_id, request.app.state.tariffs(conn), request.app.state.entities, who.username,
                    body.why, datetime.now(timezone.utc))
        record(conn, who, "bill.rebill", str(bill_id), {"why": body.why, "rebill_id": done.rebill_id})
    return done.document()


@router.get("/corrections")
def corrections(request: Request, who: Principal = Depends(staff("clerk"))) -> dict:
    """Issued bills whose period's usage changed after billing (late or corrected reads): rebill them."""
    from storage.bills import open_corrections

    with request.app.state.pool.connection() as conn:
        rows = open_corrections(conn)
    return {"total": len(rows), "corrections": [
        {"bill_id": b, "account_no": a, "billed_quantity": str(bq), "current_quantity": str(cq), "billed_reads": br,
         "current_reads": cr, "detected_at": at.isoformat()} for b, a, bq, cq, br, cr, at in rows]}


@router.post("/bill-runs/{run_id}/accounts/{account_no}/release")
def release_held(request: Request, body: Why, run_id: int = Path(ge=1, le=2**62),
                 account_no: str = Path(pattern=ACCOUNT_NO), who: Principal = Depends(staff("supervisor"))) -> dict:
    """Release the exceptions that held the account in the run's period to billing and bill it."""
    from billing.bill_run import run_bill_run
    from storage import staff_views as views
    from storage.accounts import account_id_of
    from storage.bill_runs import blocking_exception_ids
    from vee.queue import act

    with request.app.state.pool.connection() as conn:
        run = views.bill_run(conn, run_id)
        account_id = account_id_of(conn, account_no)
        if run is None or account_id is None:
            raise Problem(404, "no_such_bill_run", "no such bill run or account")
        period_id = views.bill_run_period(conn, run_id)
        held = blocking_exception_ids(conn, account_id, period_id)
        released = act(conn, held, "release", who.username, body.why, {"bill_run": run_id}) if held else 0
        result = run_bill_run(conn, period_id, request.app.state.tariffs(conn), entities=request.app.state.entities,
                              account_ids=[account_id], requested_by=who.username)
        record(conn, who, "bill_run.release", account_no, {"why": body.why, "bill_run": run_id,
                                                           "released_exceptions": released})
    return {"account_no": account_no, "released_exceptions": released,
            "bill_id": result.bill_ids[0] if result.bill_ids else None,
            "still_held": {**result.accounts_held, **result.accounts_failed}}
