"""Service orders in the API: staff list, open and act on orders (supervisors approve disconnects and
certify medical needs); a customer sees their own account's orders. The same ``cis.orders`` workflows
as ``m2c orders``; a refused request is a problem document with the workflow's code."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import account, staff
from portal.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["service orders"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the action")
Kind = Literal["connect", "disconnect", "reconnect", "meter_exchange", "investigate", "read_on_demand"]
Status = Literal["awaiting_approval", "open", "scheduled", "dispatched", "completed", "cancelled", "failed"]
Action = Literal["approve", "schedule", "dispatch", "complete", "fail", "cancel"]
# who may take each action: a disconnect for non-payment goes out only after a supervisor approves it
ROLE = {"approve": "supervisor", "schedule": "clerk", "dispatch": "clerk", "complete": "clerk", "fail": "clerk",
        "cancel": "clerk"}
ORDER_ID = Path(ge=1, le=2**62)


@router.get("/staff/orders")
def list_orders(request: Request, status: list[Status] = Query(default=[]), kind: Kind | None = None,
                account_no: str | None = Query(None, max_length=32), overdue: bool = False,
                limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**9),
                who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.orders import listing

    today = date.today()
    with request.app.state.pool.connection() as conn:
        total, found = listing(conn, status=list(status) or None, kind=kind, account_no=account_no,
                               overdue_on=today if overdue else None, limit=limit, offset=offset)
    return {"total": total, "limit": limit, "offset": offset, "orders": [o.document(today) for o in found]}


@router.get("/staff/orders/{order_id}")
def show_order(request: Request, order_id: int = ORDER_ID, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.orders import get, history

    with request.app.state.pool.connection() as conn:
        return {**get(conn, order_id).document(date.today()), "history": history(conn, order_id)}


class NewOrder(BaseModel):
    kind: Kind
    premise_id: int = Field(ge=1, le=2**62)
    service: Literal["electric", "water", "gas"]
    account_no: str | None = Field(None, max_length=32)
    due_on: date | None = None
    new_meter: str | None = Field(None, min_length=1, max_length=64, description="a meter exchange: the new meter")
    why: str = WHY


@router.post("/staff/orders", status_code=201)
def create_order(request: Request, body: NewOrder, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.orders import create

    if body.kind == "disconnect" and not who.at_least("supervisor"):
        raise Problem(403, "role_required", "ordering a disconnection needs the supervisor role or above")
    with request.app.state.pool.connection() as conn:
        order = create(conn, body.kind, body.premise_id, body.service, who.username, body.why, today=date.today(),
                       account_no=body.account_no, due_on=body.due_on,
                       details={"new_meter": body.new_meter} if body.new_meter else None)
        record(conn, who, "order.create", str(order.id), {"why": body.why, "kind": body.kind})
    return order.document(date.today())


class OrderAction(BaseModel):
    why: str = WHY
    day: date | None = Field(None, description="schedule: the day the field does it")
    at: datetime | None = Field(None, description="complete: when it was done (default: now)")
    read: str | None = Field(None, max_length=32, pattern=r"^\s*\d+(\.\d+)?\s*$",
                             description="complete: the register read taken, in the meter's unit")
    removal_read: int | None = Field(None, ge=0, le=10**15)
    install_read: int | None = Field(None, ge=0, le=10**15)
    notes: str | None = Field(None, max_length=2000)


@router.post("/staff/orders/{order_id}/{action}")
def act_on_order(request: Request, action: Action, body: OrderAction, order_id: int = ORDER_ID,
                 who: Principal = Depends(staff("clerk"))) -> dict:
    from billing.order_effects import act

    if not who.at_least(ROLE[action]):
        raise Problem(403, "role_required", f"{action} needs the {ROLE[action]} role or above")
    if body.at is not None and body.at.tzinfo is None:
        raise Problem(422, "bad_date", "give the time with its UTC offset")
    completion = {k: v for k, v in (("notes", body.notes), ("read", body.read), ("removal_read", body.removal_read),
                                    ("install_read", body.install_read)) if v is not None} \
        if action in ("complete", "fail") else None
    with request.app.state.pool.connection() as conn:
        order, refreshed = act(conn, order_id, action, who.username, body.why, request.app.state.settings.redis_url,
                               at=body.at or datetime.now(timezone.utc), day=body.day, completion=completion)
        record(conn, who, f"order.{action}", str(order_id), {"why": body.why, "status": order.status})
    return {**order.document(date.today()), "estimate_refreshed": refreshed}


class MedicalNeed(BaseModel):
    until: date | None = Field(description="the day the certificate runs to; null ends it")
    why: str = WHY


@router.put("/staff/accounts/{account_no}/medical-need")
def medical_need(request: Request, body: MedicalNeed, account_no: str = Path(max_length=32),
                 who: Principal = Depends(staff("supervisor"))) -> dict:
    from cis.orders import protect

    with request.app.state.pool.connection() as conn:
        protect(conn, account_no, body.until, who.username, body.why)
        record(conn, who, "account.medical_need", account_no, {"why": body.why, "until": str(body.until)})
    return {"account_no": account_no, "medical_need_until": body.until.isoformat() if body.until else None}


@router.get("/accounts/{account_no}/orders")
def my_orders(request: Request, found: tuple[int, str] = Depends(account)) -> dict:
    """The field work at the account's premises, as the customer may see it."""
    from cis.orders import listing

    today = date.today()
    with request.app.state.pool.connection() as conn:
        total, orders = listing(conn, account_no=found[1], limit=100)
    return {"total": total, "orders": [{k: o.document(today)[k] for k in (
        "id", "kind", "status", "service", "address", "due_on", "scheduled_for", "completed_at", "fee_minor")}
        for o in orders]}
